"""`invdn compare`: MLflow runs filtered by tag and filter string, sorted by a metric, written as CSV."""
import pandas as pd
import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

from invdn.cli import main
from invdn.reporting.runs import CompareError, compare_runs, format_table, tag_filter

RUNS = [  # name, tags, metrics
    ("evaluate/smoke/single", {"stage": "evaluate", "variant": "smoke", "mode": "single"}, {"psnr": 30.5, "ssim": 0.81}),
    ("evaluate/smoke/mc", {"stage": "evaluate", "variant": "smoke", "mode": "mc"}, {"psnr": 31.25, "ssim": 0.79}),
    ("evaluate/dncnn", {"stage": "evaluate", "variant": "dncnn", "mode": "single"}, {"psnr": 29.0, "ssim": 0.9}),
    ("train/smoke/seed0", {"stage": "train", "variant": "smoke", "version.torch": "2.13.0"}, {"val_psnr": 28.0}),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A sqlite store with the RUNS in experiment invdn-repro (made through the client: no tracked_run overhead)."""
    path = tmp_path_factory.mktemp("compare") / "mlflow.db"
    uri = f"sqlite:///{path}"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("invdn-repro")
    for name, tags, metrics in RUNS:
        run = client.create_run(exp, run_name=name, tags=tags)
        for key, value in metrics.items():
            client.log_metric(run.info.run_id, key, value)
        client.set_terminated(run.info.run_id)
    return uri


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_tag_filter_quotes_keys_and_values():
    assert tag_filter({"stage": "evaluate", "version.torch": "2.1"}) == \
        "tags.`stage` = 'evaluate' AND tags.`version.torch` = '2.1'"
    assert tag_filter({"note": "it's"}) == "tags.`note` = \"it's\""


def test_filters_by_tag_and_sorts_by_metric(store):
    smoke = compare_runs(store, tags={"variant": "smoke", "stage": "evaluate"}, sort="psnr")
    assert list(smoke["name"]) == ["evaluate/smoke/mc", "evaluate/smoke/single"]
    assert list(smoke["psnr"]) == [31.25, 30.5] and list(smoke["mode"]) == ["mc", "single"]
    up = compare_runs(store, tags={"variant": "smoke", "stage": "evaluate"}, sort="psnr", ascending=True)
    assert list(up["name"]) == ["evaluate/smoke/single", "evaluate/smoke/mc"]
    by_ssim = compare_runs(store, filter_string="tags.stage = 'evaluate'", sort="ssim", columns=["name", "ssim"])
    assert list(by_ssim.columns) == ["name", "ssim"] and list(by_ssim["ssim"]) == [0.9, 0.81, 0.79]
    both = compare_runs(store, filter_string="tags.mode = 'single'", tags={"variant": "smoke"})  # ANDed
    assert list(both["name"]) == ["evaluate/smoke/single"]
    dotted = compare_runs(store, tags={"version.torch": "2.13.0"}, columns=["name", "val_psnr"])
    assert dotted.to_dict("records") == [{"name": "train/smoke/seed0", "val_psnr": 28.0}]


def test_runs_without_the_sort_metric_come_last_and_limit_applies_after_sorting(store):
    every = compare_runs(store, sort="psnr", columns=["name", "psnr"])
    assert list(every["name"]) == ["evaluate/smoke/mc", "evaluate/smoke/single", "evaluate/dncnn", "train/smoke/seed0"]
    assert pd.isna(every["psnr"].iloc[-1])
    top = compare_runs(store, sort="psnr", ascending=True, limit=2, columns=["name"])
    assert list(top["name"]) == ["evaluate/dncnn", "evaluate/smoke/single"]


def test_default_columns_hold_run_tags_and_the_metrics_present(store):
    frame = compare_runs(store, tags={"stage": "evaluate"})
    assert list(frame.columns) == ["run_id", "name", "status", "stage", "variant", "mode", "psnr", "ssim"]
    assert set(frame["status"]) == {"FINISHED"}
    text = format_table(frame)
    assert "31.2500" in text and "evaluate/dncnn" in text and frame["run_id"][0][:8] in text


def test_command_prints_the_table_and_writes_the_csv(store, tmp_path):
    out = tmp_path / "runs.csv"
    r = invoke("compare", "--tracking-uri", store, "--tag", "stage=evaluate", "--sort", "psnr", "--csv", out)
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    order = [next(i for i, line in enumerate(lines) if name in line)
             for name in ("evaluate/smoke/mc", "evaluate/smoke/single", "evaluate/dncnn")]
    assert order == sorted(order)
    written = pd.read_csv(out)
    assert list(written["name"]) == ["evaluate/smoke/mc", "evaluate/smoke/single", "evaluate/dncnn"]
    assert list(written["psnr"]) == [31.25, 30.5, 29.0] and len(written["run_id"][0]) == 32  # full ids in the CSV


def test_errors_name_the_store_and_what_exists(store, tmp_path):
    with pytest.raises(CompareError, match=r"no experiment 'nope' in the MLflow store sqlite:///.*holds: .*invdn-repro"):
        compare_runs(store, experiment="nope")
    with pytest.raises(CompareError, match=r"no column 'psnrr'.*metrics: psnr, ssim, val_psnr"):
        compare_runs(store, sort="psnrr")
    with pytest.raises(CompareError, match="refused the filter"):
        compare_runs(store, filter_string="tags.stage =")
    missing = tmp_path / "absent.db"
    r = CliRunner().invoke(main, ["compare", "--tracking-uri", f"sqlite:///{missing}"])
    assert r.exit_code == 1 and f"no MLflow store at {missing}" in r.output and not missing.exists()
