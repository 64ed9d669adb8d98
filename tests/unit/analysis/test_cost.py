import pytest
import torch

from invdn.models import InvDN
from invdn.analysis.cost import count_flops, profile


def subnet_macs(cin: int, cout: int, pixels: int, f: int = 64) -> int:
    return pixels * 9 * (cin * f + f * f + (cin + f) * cout)


def invdn_macs(blocks, size: int, channels: int = 3) -> int:
    """Multiply-accumulates of forward + reverse, counted by hand: each coupling block runs F, G, H
    once per direction; each Haar (or its transpose) reads a 2x2 window per output value."""
    macs, c, h = 0, channels, size
    for n in blocks:
        haar = 4 * c * h * h
        c, h = 4 * c, h // 2
        rest = c - channels
        per_block = subnet_macs(rest, channels, h * h) + 2 * subnet_macs(channels, rest, h * h)
        macs += 2 * (n * per_block + haar)
    return macs


@pytest.mark.parametrize("down_blocks,inv_blocks,size", [(2, 8, 256), (1, 2, 64), (3, 1, 64)])
def test_flop_count_equals_the_hand_count(down_blocks, inv_blocks, size):
    model = InvDN(down_blocks=down_blocks, inv_blocks=inv_blocks)
    assert count_flops(model, size) == 2 * invdn_macs([inv_blocks] * down_blocks, size)


def test_profile_reports_consistent_units():
    torch.manual_seed(0)
    p = profile(InvDN(inv_blocks=1), size=32, repeats=1)
    assert p.gflops == pytest.approx(2 * p.gmac) and p.parameters == InvDN(inv_blocks=1).num_parameters()
    assert p.seconds_per_megapixel == pytest.approx(p.seconds_per_image / (32 * 32 / 1e6))
    assert p.seconds_per_image > 0 and p.device == "cpu"


def test_cost_table_rows_equal_hand_counts(tmp_path):
    from click.testing import CliRunner

    from invdn.cli import main
    from invdn.reporting.tables import cost_rows
    from helpers import invdn_params

    from helpers import REPO

    reference = REPO / "results" / "reference_numbers.yaml"
    rows = cost_rows(reference)
    assert len(rows) == 3 + 6  # paper model, squeeze, dense, and the six Table 3 architectures
    for r in rows:
        if r["subnet"] == "resnet":
            assert r["parameters"] == invdn_params(3, r["inv_blocks"]), r["label"]
        if r["transform"] == "haar" and r["subnet"] == "resnet":
            assert r["gmac"] * 1e9 == pytest.approx(invdn_macs(r["inv_blocks"], 256), rel=1e-12), r["label"]
    paper, squeeze, dense = rows[:3]
    assert squeeze["parameters"] == paper["parameters"] and dense["parameters"] > paper["parameters"]
    assert round(paper["parameters"] / 1e6, 2) == paper["paper_parameters_m"]
    assert {len(r["inv_blocks"]) for r in rows[3:]} == {1, 2, 3}

    r = CliRunner().invoke(main, ["cost-table", "--reference", str(reference), "--out", str(tmp_path / "cost")])
    assert r.exit_code == 0, r.output
    import csv

    table = list(csv.DictReader((tmp_path / "cost.csv").open()))
    assert len(table) == len(rows) and table[0]["parameters"] == str(paper["parameters"])
    assert r"\toprule" in (tmp_path / "cost.tex").read_text() and "| Architecture |" in (tmp_path / "cost.md").read_text()
