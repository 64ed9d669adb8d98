"""The claims ledger: every decision rule gives each verdict on constructed rows, and the ledger of
constructed tables and MLflow runs decides at paper scale what it leaves inconclusive at smoke scale."""
from __future__ import annotations

import csv
import math

import pytest
from mlflow.tracking import MlflowClient

from helpers import REPO
from invdn.config import load_yaml
from invdn.reporting.ledger import RULES, VERDICTS, compare, decide, ledger, resolve, select, summary, wilson
from invdn.reporting.tracked import TableError

CLAIMS = REPO / "results" / "claims.yaml"
REFERENCE = REPO / "results" / "reference_numbers.yaml"
SPEC = {"value": "v", "low": "lo", "high": "hi"}


def row(v, lo, hi, **extra) -> dict:
    return {"v": str(v), "lo": str(lo), "hi": str(hi), **{k: str(x) for k, x in extra.items()}}


@pytest.mark.parametrize("rule, rows, expected", [
    ({"kind": "within_interval"}, [row(39.2, 39.1, 39.3)], "reproduced"),
    ({"kind": "within_interval"}, [row(38.0, 37.9, 38.1)], "not reproduced"),
    ({"kind": "all_below", "threshold": 0}, [row(-0.3, -0.4, -0.2), row(-0.1, -0.2, -0.05)], "reproduced"),
    ({"kind": "all_below", "threshold": 0}, [row(-0.3, -0.4, -0.2), row(0.2, 0.1, 0.3)], "not reproduced"),
    ({"kind": "all_below", "threshold": 0}, [row(-0.3, -0.4, -0.2), row(0.0, -0.1, 0.1)], "inconclusive"),
    ({"kind": "all_above", "threshold": 0}, [row(0.3, 0.2, 0.4)], "reproduced"),
    ({"kind": "all_above", "threshold": 0}, [row(-0.3, -0.4, -0.2)], "not reproduced"),
    ({"kind": "all_above", "threshold": 0}, [row(0.1, -0.1, 0.3)], "inconclusive"),
    ({"kind": "not_above", "margin": 0.05}, [row(-0.1, -0.2, 0.02)], "reproduced"),
    ({"kind": "not_above", "margin": 0.05}, [row(0.2, 0.1, 0.3)], "not reproduced"),
    ({"kind": "not_above", "margin": 0.05}, [row(0.0, -0.1, 0.2)], "inconclusive"),
])
def test_interval_rules_give_each_verdict(rule, rows, expected):
    verdict, measured, reason = decide(rule, 39.28, 2, rows, SPEC)
    assert verdict == expected and measured and reason


def test_a_printed_value_stands_for_half_a_unit_of_its_last_digit():
    # 0.955 printed with 3 decimals covers [0.9545, 0.9555]: an interval ending at 0.9546 overlaps it
    assert decide({"kind": "within_interval"}, 0.955, 3, [row(0.952, 0.950, 0.9546)], SPEC)[0] == "reproduced"
    assert decide({"kind": "within_interval"}, 0.955, 3, [row(0.952, 0.950, 0.9544)], SPEC)[0] == "not reproduced"


def test_exact_and_relative_rules():
    spec = {"value": "v", "scale": 1e-6}
    assert decide({"kind": "exact"}, 2.64, 2, [{"v": "2640960"}], spec)[0] == "reproduced"
    assert decide({"kind": "exact"}, 4.3, 1, [{"v": "4355136"}], spec)[0] == "not reproduced"  # 4.36 -> 4.4
    assert decide({"kind": "relative", "tolerance": 0.01}, 47.80, 2, [{"v": "47.54"}], {"value": "v"})[0] == "reproduced"
    assert decide({"kind": "relative", "tolerance": 0.001}, 47.80, 2, [{"v": "47.54"}], {"value": "v"})[0] == "not reproduced"


def test_fraction_rule_uses_the_wilson_interval_of_the_images():
    low, high = wilson(0.8, 100)
    assert low == pytest.approx(0.7112, abs=1e-4) and high == pytest.approx(0.8666, abs=1e-4)  # Wilson (1927)
    spec = {"value": "v", "images": "n"}
    assert decide({"kind": "fraction"}, 0.8335, 4, [{"v": "0.8", "n": "100"}], spec)[0] == "reproduced"
    assert decide({"kind": "fraction"}, 0.8335, 4, [{"v": "0.5", "n": "100"}], spec)[0] == "not reproduced"


def test_lowest_rule():
    rows = [row(0.06, 0.05, 0.07, m="invdn"), row(0.2, 0.15, 0.25, m="awgn"), row(0.3, 0.2, 0.4, m="mvg")]
    subject = [rows[0]]
    assert decide({"kind": "lowest"}, None, None, rows, SPEC, subject)[0] == "reproduced"
    rows[1] = row(0.02, 0.01, 0.03, m="awgn")
    assert decide({"kind": "lowest"}, None, None, rows, SPEC, subject)[0] == "not reproduced"
    rows[1] = row(0.07, 0.06, 0.08, m="awgn")
    assert decide({"kind": "lowest"}, None, None, rows, SPEC, subject)[0] == "inconclusive"


def test_unknown_rule_is_an_error():
    with pytest.raises(TableError, match="unknown rule 'median'"):
        decide({"kind": "median"}, 1.0, 2, [row(1, 0, 2)], SPEC)


def test_every_claim_resolves_its_reference_and_names_a_known_rule():
    reference = load_yaml(REFERENCE)
    claims = load_yaml(CLAIMS)["claims"]
    assert len({c["id"] for c in claims}) == len(claims)
    for c in claims:
        assert c["rule"]["kind"] in RULES, c["id"]
        assert c["decided_at"] in ("any", "paper"), c["id"]
        if "ref" in c["claimed"]:
            assert isinstance(resolve(c["claimed"]["ref"], reference), (int, float)), c["id"]
    with pytest.raises(TableError, match="no 'nope'"):
        resolve("table2[key=invdn].nope", reference)


def test_filters_select_rows_by_value_comparison_and_reference():
    reference = load_yaml(REFERENCE)
    rows = [{"k": "8", "d": ""}, {"k": "16", "d": "0.1"}, {"k": "16", "d": "-0.2"}]
    assert select(rows, {"k": {"ref": "mc_ensemble.mc_samples"}}, reference) == rows[1:]
    assert select(rows, {"d": {"<": math.inf}}, reference) == rows[1:]  # rows with a difference
    assert select(rows, [{"d": {">": 0}}, {"k": 8}], reference) == rows[:2]


# ------------------------------------------------------------------------------------- end to end
def _write_csv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        writer.writeheader()
        writer.writerows(rows)


def _runs(uri: str, scale: str, iterations: int, seeds=(0, 1)) -> list[str]:
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("ledger") or client.get_experiment(client.create_experiment("ledger"))
    ids = []
    for seed in seeds:
        run = client.create_run(exp.experiment_id, tags={"scale": scale})
        client.log_param(run.info.run_id, "train.iterations", iterations)
        client.log_param(run.info.run_id, "train.seed", seed)
        client.set_terminated(run.info.run_id)
        ids.append(run.info.run_id)
    return ids


def _tables(folder, main_ids, grid_ids):
    """Constructed tables of one preset: the main model near the paper's SIDD numbers, MC-16 gaining
    with 85% of 100 images improved, and a Table 4 grid where L2 / L1 wins."""
    _write_csv(folder / "table2.csv", [
        {"method": "InvDN (reproduced here, single draw)", "cell": "measured here", "psnr_mean": 39.25,
         "psnr_ci_low": 39.10, "psnr_ci_high": 39.40, "ssim_mean": 0.9551, "ssim_ci_low": 0.954,
         "ssim_ci_high": 0.956, "run_ids": " ".join(main_ids)}])
    _write_csv(folder / "cost.csv", [{"label": "InvDN (Table 2)", "subnet": "resnet", "parameters": 2640960, "gmac": 47.54},
                                     {"label": "dense", "subnet": "densenet", "parameters": 4355136, "gmac": 76.5}])
    _write_csv(folder / "mc.csv", [{"mc_samples": 16, "gain_mean": 0.1, "gain_ci_low": 0.05, "gain_ci_high": 0.15,
                                    "fraction_improved": 0.85, "num_images": 100, "run_ids": ""}])
    _write_csv(folder / "table4.csv", [
        {"variant": "l2-l1", "lambda_gradient": 0, "lambda_ssim": 0, "diff_mean": "", "run_ids": " ".join(grid_ids)},
        {"variant": "l1-l1", "lambda_gradient": 0, "lambda_ssim": 0, "diff_mean": -0.3, "diff_ci_low": -0.4,
         "diff_ci_high": -0.2, "run_ids": " ".join(grid_ids)},
        {"variant": "l2-l1-grad", "lambda_gradient": 0.1, "lambda_ssim": 0, "diff_mean": -0.05, "diff_ci_low": -0.1,
         "diff_ci_high": -0.01, "run_ids": " ".join(grid_ids)}])


def _verdicts(path) -> dict[str, dict]:
    with open(path, newline="") as f:
        return {r["id"]: r for r in csv.DictReader(f)}


def test_ledger_decides_at_paper_scale_what_smoke_scale_leaves_inconclusive(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    for scale, iterations in (("paper", 600000), ("smoke", 500)):
        folder = tmp_path / scale / "tables"
        ids = _runs(uri, scale, iterations)
        _tables(folder, ids, ids)
        ledger(CLAIMS, REFERENCE, folder, uri).write(tmp_path / scale / "ledger")
    paper, smoke = _verdicts(tmp_path / "paper" / "ledger.csv"), _verdicts(tmp_path / "smoke" / "ledger.csv")
    expected = {"parameters": "reproduced", "cost": "reproduced", "dense_parameters": "not reproduced",
                "sidd_psnr": "reproduced", "sidd_ssim": "reproduced", "mc_gain": "reproduced", "mc_fraction": "reproduced",
                "table4_l2_l1_best": "reproduced", "table4_extra_losses": "reproduced", "dnd_psnr": "inconclusive",
                "akld": "inconclusive", "table3_two_down_blocks": "inconclusive"}
    assert {k: paper[k]["verdict"] for k in expected} == expected
    assert "this preset writes no table5 table" in paper["akld"]["reason"]
    assert "DND's online server" in paper["dnd_psnr"]["reason"]
    assert set(paper["sidd_psnr"]["run_ids"].split()) and paper["parameters"]["run_ids"] == ""
    # smoke scale: the claims about the code are still decided, those about the trained model are not
    assert {smoke[k]["verdict"] for k in ("parameters", "cost")} == {"reproduced"}
    for k in ("sidd_psnr", "mc_gain", "table4_l2_l1_best"):
        assert smoke[k]["verdict"] == "inconclusive"
        assert smoke[k]["reason"].startswith("smoke scale: 500 iterations, the claim is about 600000 iterations")
    assert "(measured here: reproduced" in smoke["sidd_psnr"]["reason"]
    assert summary([r["verdict"] for r in smoke.values()], "smoke").startswith(f"{len(smoke)} claims: 2 reproduced, ")

    flips = compare({"paper": tmp_path / "paper" / "ledger.csv", "smoke": tmp_path / "smoke" / "ledger.csv"})
    flipped = {r[0] for r in flips.rows}
    assert {"sidd_psnr", "mc_gain"} <= flipped and "parameters" not in flipped and "dnd_psnr" not in flipped


def test_one_seed_leaves_an_ordering_inconclusive(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    main, grid = _runs(uri, "paper", 600000), _runs(uri, "paper", 600000, seeds=(0,))
    _tables(tmp_path / "tables", main, grid)
    ledger(CLAIMS, REFERENCE, tmp_path / "tables", uri).write(tmp_path / "ledger")
    row = _verdicts(tmp_path / "ledger.csv")["table4_l2_l1_best"]
    assert row["verdict"] == "inconclusive" and row["reason"].startswith("1 seed, 2 needed")


def test_a_run_missing_from_the_store_is_an_error_naming_it(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    _runs(uri, "paper", 600000)
    _tables(tmp_path / "tables", ["0123456789abcdef"], [])
    with pytest.raises(TableError, match="MLflow run 0123456789abcdef, named by a table, is not in the store"):
        ledger(CLAIMS, REFERENCE, tmp_path / "tables", uri)


def test_verdict_names_are_the_three_of_the_issue():
    assert VERDICTS == ("reproduced", "not reproduced", "inconclusive")
