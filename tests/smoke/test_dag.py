"""The real Snakemake DAG on a tiny config in a temporary directory: data checks -> train ->
evaluate (single, MC) -> table2.tex, whose numbers must be those of the metrics files."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from conftest import REPO, psnr_cell, tiny_run_config

pytestmark = pytest.mark.slow

# Two studies: the main setting (trained by the main run, which stands in for it since
# ablations.train is empty) plus a squeeze variant and a gradient-loss variant.
TINY_GRID = {"fig5a": {"transform": ["haar", "squeeze"]},
             "table4": [{"forward_loss": "l2", "backward_loss": "charbonnier"},
                        {"forward_loss": "l2", "backward_loss": "charbonnier", "lambda_gradient": 0.1}]}


def snakemake(workdir: Path, config: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}  # the config's store, not a leftover
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
         "--configfile", str(config), "--cores", "2", *extra],
        env=env, capture_output=True, text=True, timeout=900,
    )


@pytest.fixture(scope="module")
def dag_run(tmp_path_factory):
    from conftest import BUNDLED, crop_folder

    tmp = tmp_path_factory.mktemp("dag")
    data = {
        "train": crop_folder(BUNDLED / "train_mini", tmp / "train", ["0_0", "0_1", "0_2"], 64, ("Noisy", "GT", "LQ")),
        "val": crop_folder(BUNDLED / "val_mini", tmp / "val", ["0_0", "0_1", "0_2"], 32),
    }
    raw = tiny_run_config(data, iterations=3, val_every=0, noise_gain_max=2.0, channel_shuffle=True)
    raw["evaluate"] = {"modes": ["single", "mc"], "mc_samples": 2, "save_samples": 1, "mc_sweep": [1, 2],
                       "akld_samples": 2, "pgap_generators": ["invdn", "awgn"]}
    raw["baselines"] = {"classical": ["bicubic_down_up", "nlm"],
                        "networks": {"dncnn": {"network": "dncnn", "depth": 3, "features": 8}},
                        "train": {"iterations": 2}, "noise_models": ["awgn"]}
    raw["ablations"] = TINY_GRID
    raw["job_threads"] = 1  # jobs side by side, as the smoke config
    raw["mlflow"] = {}
    config = tmp / "tiny.yaml"
    config.write_text(yaml.safe_dump(raw))
    work = tmp / "work"
    first = snakemake(work, config)
    return work, config, first


def test_dag_writes_table2_from_the_metrics_files(dag_run):
    work, _, first = dag_run
    assert first.returncode == 0, first.stderr[-3000:]
    # the best measured value of a column is bold: compare the numbers without it
    tex = re.sub(r"\\textbf\{((?:[^{}]|\{[^{}]*\})*)\}", r"\1", (work / "results" / "tables" / "table2.tex").read_text())
    uri = f"sqlite:///{work}/results/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    for mode, label in (("single", "single draw"), ("mc", "MC-2")):
        rec = json.loads((work / "results" / "eval" / "tiny" / "seed0" / f"{mode}.json").read_text())
        line = next(l for l in tex.splitlines() if l.startswith(f"InvDN (reproduced here, {label})"))
        gmac = json.loads((work / "results" / "profile" / "tiny" / "seed0" / "profile.json").read_text())["gmac"]
        assert f"& {gmac:.2f} &" in line
        assert f"{psnr_cell(rec)}$^\\dagger$ & {rec['mean']['ssim']:.4f}$^\\dagger$" in line
        run = client.get_run(rec["mlflow"]["run_id"])
        assert run.info.status == "FINISHED" and run.data.tags["snakemake_rule"] == "evaluate"
        assert run.data.metrics["psnr"] == rec["mean"]["psnr"]
    assert "smoke-scale numbers" in tex and "tiny val, 3 images" in tex
    assert "augmentations not in the paper: real noise residual scaled by a random gain in [1, 2]" in tex
    assert "random RGB channel permutation" in tex
    exp = client.get_experiment_by_name("invdn-repro")
    statuses = [r.info.status for r in client.search_runs([exp.experiment_id])]
    # train, evaluate x2, profile, mc_sweep, akld; baselines: bicubic, nlm, dncnn (train + evaluate), awgn akld;
    # grid: squeeze and gradient-loss variants (train + evaluate each)
    assert sorted(statuses) == ["FINISHED"] * 15
    for label, method in (("Bicubic x4 down-up", "bicubic_down_up"), ("NLM", "nlm"), ("DnCNN", "dncnn")):
        rec = json.loads((work / "results" / "eval" / "baselines" / "tiny" / f"{method}.json").read_text())
        line = next(l for l in tex.splitlines() if l.startswith(f"{label} (measured here)"))
        assert f"{psnr_cell(rec)}$^\\dagger$" in line
    assert "dncnn, trained here at smoke scale" in tex and r"\emph{Reported" in tex
    for log in ("logs/train/tiny/seed0/train.log", "logs/eval/tiny/seed0/mc.log", "logs/tables/table2.log"):
        assert (work / log).is_file()


def test_dag_writes_the_mc_table_and_table5(dag_run):
    work, _, first = dag_run
    assert first.returncode == 0, first.stderr[-3000:]
    sweep = json.loads((work / "results" / "analysis" / "tiny" / "seed0" / "mc_sweep.json").read_text())
    mc = (work / "results" / "tables" / "mc.md").read_text()
    assert mc.count("**") >= 4  # the best mean PSNR and SSIM are bold
    mc = mc.replace("**", "")
    for c in sweep["curve"]:
        assert f"| {c['mc_samples']} | {c['psnr']:.2f} [{c['psnr_ci']['low']:.2f}, {c['psnr_ci']['high']:.2f}] |" in mc
    akld = json.loads((work / "results" / "analysis" / "tiny" / "seed0" / "akld.json").read_text())
    t5 = (work / "results" / "tables" / "table5.md").read_text().replace("**", "")
    assert f"InvDN (L = 2, eps = 0.0002) | measured here | {akld['akld']:.3g} [" in t5
    awgn = json.loads((work / "results" / "analysis" / "noise_models" / "tiny" / "awgn" / "akld.json").read_text())
    assert f"AWGN (L = 2) | measured here | {awgn['akld']:.3g} [" in t5
    for name in ("cost.tex", "mc.tex", "table5.tex"):
        assert (work / "results" / "tables" / name).is_file()
    assert (work / "results" / "analysis" / "tiny" / "seed0" / "mc_sweep_residuals.png").is_file()


def test_second_run_has_nothing_to_do(dag_run):
    work, config, first = dag_run
    assert first.returncode == 0
    second = snakemake(work, config)
    assert second.returncode == 0
    assert "Nothing to be done" in second.stdout + second.stderr


def test_paper_config_plans_without_gpu_or_sidd(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
         "--configfile", str(REPO / "workflow" / "config" / "paper.yaml"), "--cores", "1"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert "train" in out and "table2" in out
    table = out[out.index("Job stats"):].split("\n\n")[0].splitlines()[3:]
    jobs = {name: int(count) for name, count in (line.split() for line in table) if name != "total"}
    # the full grid: 14 distinct variants, the main setting trained by the main run itself
    assert jobs["train_ablation"] == 13 and jobs["evaluate_ablation"] == 13
    assert jobs["ablation_table"] == 4 and jobs["ablation_curves"] == 4 and jobs["train"] == 1


def test_pgap_target_trains_on_generated_pairs_and_writes_the_table(dag_run):
    work, config, first = dag_run
    assert first.returncode == 0
    run = snakemake(work, config, "pgap_all")
    assert run.returncode == 0, run.stderr[-3000:]
    base = work / "results" / "pgap" / "tiny" / "seed0" / "invdn"
    manifest = json.loads((base / "train" / "manifest.json").read_text())
    assert manifest["generator"] == "invdn" and len(manifest["pairs"]) == 3
    assert {p.name for p in (base / "train" / "GT").iterdir()} == {p.name for p in (base / "train" / "Noisy").iterdir()}
    record = json.loads((base / "pgap.json").read_text())
    real = json.loads((work / "results" / "eval" / "tiny" / "seed0" / "single.json").read_text())
    generated = json.loads((base / "eval.json").read_text())
    assert record["psnr_real"] == pytest.approx(real["mean"]["psnr"], abs=1e-9)
    assert record["pgap"] == pytest.approx(real["mean"]["psnr"] - generated["mean"]["psnr"], abs=1e-9)
    table = (work / "results" / "tables" / "pgap.md").read_text()
    assert f"| invdn | {record['psnr_real']:.2f} | {record['psnr_generated']:.2f} | {record['pgap']:.3f} [" in table
    assert "harness protocol" in table
    # a noise model as the generator: new noise on the same clean images, fitted per training image
    awgn = work / "results" / "pgap" / "tiny" / "seed0" / "awgn"
    assert json.loads((awgn / "train" / "manifest.json").read_text())["generator"] == "awgn"
    first_noisy = sorted((awgn / "train" / "Noisy").iterdir())[0]
    assert first_noisy.read_bytes() != (base / "train" / "Noisy" / first_noisy.name).read_bytes()
    record = json.loads((awgn / "pgap.json").read_text())
    assert f"| awgn | {record['psnr_real']:.2f} | {record['psnr_generated']:.2f} | {record['pgap']:.3f} [" in table


def test_ablation_tables_and_curves_come_from_the_grid(dag_run):
    work, _, first = dag_run
    assert first.returncode == 0, first.stderr[-3000:]
    main = json.loads((work / "results" / "eval" / "tiny" / "seed0" / "single.json").read_text())
    squeeze = json.loads((work / "results" / "eval" / "tiny" / "ablations" /
                          "down2-inv1-squeeze-resnet-fwd_l2-bwd_charbonnier" / "single.json").read_text())
    fig5a = (work / "results" / "tables" / "fig5a.md").read_text()
    # the main setting is the main run's own evaluation; the paired difference is taken against it
    assert f"| haar | {main['mean']['psnr']:.2f} [" in fig5a and "| squeeze | " in fig5a
    assert "minus haar (dB)" in fig5a
    table4 = (work / "results" / "tables" / "table4.md").read_text()
    assert "| L2 / Charbonnier + 0.1 gradient | " in table4 and "| 38.73 | " in table4  # the paper's column 4
    assert "| L2 / Charbonnier | " in table4 and "| 38.88 | " in table4
    assert squeeze["checkpoint"].endswith("ablations/down2-inv1-squeeze-resnet-fwd_l2-bwd_charbonnier/seed0/model.pt")
    for study in ("fig5a", "table4"):
        assert (work / "results" / "tables" / f"{study}.tex").read_text().count(r"\textbf{") >= 1
        assert (work / "results" / "figures" / "tiny" / f"{study}_curves.png").stat().st_size > 0


def test_editing_one_ablation_value_schedules_only_its_dependents(dag_run):
    work, config, first = dag_run
    assert first.returncode == 0
    raw = yaml.safe_load(config.read_text())
    raw["ablations"]["table4"][1]["lambda_gradient"] = 0.2
    edited = config.with_name("tiny-edited.yaml")
    edited.write_text(yaml.safe_dump(raw))
    plan = snakemake(work, edited, "-n")
    assert plan.returncode == 0, plan.stderr[-3000:]
    out = plan.stdout + plan.stderr
    table = out[out.index("Job stats"):].split("\n\n")[0].splitlines()[3:]  # below the header and its rule
    jobs = {name: int(count) for name, count in (line.split() for line in table) if name != "total"}
    assert jobs == {"train_ablation": 1, "evaluate_ablation": 1, "ablation_table": 1, "ablation_curves": 1, "all": 1}
    assert "down2-inv1-haar-resnet-fwd_l2-bwd_charbonnier-grad0.2" in out and "wildcards: study=table4" in out


def test_report_gathers_tables_figures_and_gallery(dag_run):
    work, config, first = dag_run
    assert first.returncode == 0
    report = work / "report.html"
    run = snakemake(work, config, "--report", str(report))
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout + run.stderr
    for name in ("table2.csv", "table5.csv", "mc.csv", "fig5a.csv", "table4_curves.png", "mc_sweep_residuals.png",
                 "latent_pca.png", "gallery.png", "noise_residuals.png", "0_0_noisy.png", "0_0_mc2.png"):
        assert f"Adding {name}" in out
    assert report.stat().st_size > 100_000
