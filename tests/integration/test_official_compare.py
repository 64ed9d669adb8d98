"""benchmarks/official.py and inference.layer_ceiling (``suite.py --official PATH``) at a tiny size.

The official code cannot be fetched in CI, so a stand-in checkout provides its interface
(``codes/models/modules/Inv_arch.py`` with ``InvNet``, ``Subnet_constructor.py`` with ``subnet``) by
wrapping this project's InvDN; the test checks the harness (interleaving, ratios, ceiling, agreement),
not the official numbers."""
from __future__ import annotations

import statistics
import sys

import pytest
import torch

from helpers import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import official  # noqa: E402
from inference import convolutions_alone, flops_of, layer_ceiling  # noqa: E402

STAND_IN = '''
import torch
from invdn.models import InvDN


class InvNet(InvDN):
    def __init__(self, channel_in, channel_out, subnet_constructor, block_num, down_num):
        super().__init__(inv_blocks=tuple(block_num), down_blocks=down_num)
        self.auto_layout = False  # NCHW throughout, as the official code runs
'''


@pytest.fixture()
def checkout(tmp_path):
    modules = tmp_path / "codes" / "models" / "modules"
    modules.mkdir(parents=True)
    (modules / "Inv_arch.py").write_text(STAND_IN)
    (modules / "Subnet_constructor.py").write_text("def subnet(name):\n    return name\n")
    yield tmp_path
    for name in [m for m in sys.modules if m == "models" or m.startswith("models.")]:
        del sys.modules[name]  # the stand-in's package name must not leak into other tests


def test_compare_interleaves_and_reports_every_ratio_and_the_ceiling(checkout):
    torch.set_num_threads(1)
    res = official.compare(checkout, 32, 2, 2, {"float32": 1.0})
    assert set(res["seconds"]) >= {"official single", "ours single", "ours bf16 single", "official mc2", "ours mc2"}
    assert len(res["seconds"]["ours single"]) == 2 and len(res["seconds"]["ours mc2"]) == 1  # MC in half the rounds
    for key in ("ratio_single", "ratio_mc2", "ratio_bf16_single_vs_official_fp32"):
        assert res[key] > 0
    # the same weights behind both interfaces: the latent and the reverse pass agree to round-off
    assert res["max_rel_diff_latent"] < 1e-5 and res["max_rel_diff_reverse"] < 1e-5
    ceiling = res["layer_ceiling"]
    # 2 scales x 8 blocks x 3 subnets x 4 convolutions (conv3 as two), forward and reverse, plus 2 Haar each way
    assert sum(r["count"] for r in ceiling["layers"]) == 2 * (16 * 3 * 4 + 2)
    assert ceiling["flops"] == flops_of(lambda: official.run_mode(
        _default_model(), torch.rand(1, 3, 32, 32), [official.image_generator(0, "bench")], "single"))
    alone = res["seconds"]["ours single, convolutions alone"]
    assert len(alone) == 2 and res["ceiling_of_float32_limit"] > 0
    # the ceiling is a contender of the rounds: ours' share of it is the median of the per-round ratios
    assert res["ours_single_of_ceiling"] == pytest.approx(
        statistics.median(a / b for a, b in zip(alone, res["seconds"]["ours single"])))


def _default_model():
    torch.manual_seed(0)
    return official.InvDN().eval()


def test_layer_ceiling_sums_each_distinct_convolution_by_its_count():
    w = torch.randn(8, 4, 3, 3)
    x = torch.randn(1, 4, 16, 16)

    def fn():
        for _ in range(3):
            torch.nn.functional.conv2d(x, w, padding=1)
        torch.nn.functional.conv2d(x[:, :2], w[:, :2], padding=1)
    c = layer_ceiling(convolutions_alone(fn, torch.device("cpu"))[0], torch.device("cpu"), repeats=3)
    counts = sorted((r["count"], tuple(r["weight"])) for r in c["layers"])
    assert counts == [(1, (8, 2, 3, 3)), (3, (8, 4, 3, 3))]
    assert c["seconds"] == pytest.approx(sum(r["count"] * r["seconds_each"] for r in c["layers"]))
    assert c["flops"] == 3 * 2 * 9 * 4 * 8 * 256 + 2 * 9 * 2 * 8 * 256
