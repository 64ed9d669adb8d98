"""The real Snakemake DAG on a tiny config in a temporary directory: data checks -> train ->
evaluate (single, MC) -> table2.tex, whose numbers must be those of the metrics files."""
import json
import os
import re

import numpy as np
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from helpers import REPO, psnr_cell, snakemake, tiny_run_config

pytestmark = pytest.mark.slow

# Two studies: the main setting (trained by the main run, which stands in for it since
# ablations.train is empty) plus a squeeze variant and a gradient-loss variant.
TINY_GRID = {"fig5a": {"transform": ["haar", "squeeze"]},
             "table4": [{"forward_loss": "l2", "backward_loss": "charbonnier"},
                        {"forward_loss": "l2", "backward_loss": "charbonnier", "lambda_gradient": 0.1}]}


def write_released_weights(folder: Path) -> dict[str, Path]:
    """An official-format state dict (module.-prefixed, as DataParallel saves it) and a PaddleGAN trainer
    .pdparams, both of a small perturbed InvDN whose architecture only the files themselves tell."""
    import pickle

    import torch

    from helpers import perturbed_invdn

    model = perturbed_invdn()
    folder.mkdir(parents=True, exist_ok=True)
    official, paddle = folder / "InvDN_ResUnit_x4.pth", folder / "InvDN_Denoising.pdparams"
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, official)
    with paddle.open("wb") as f:
        pickle.dump({"generator": {k: v.numpy() for k, v in model.state_dict().items()}}, f, protocol=2)
    return {"official": official, "paddle": paddle}


def write_benchmarks(folder: Path) -> dict:
    """A SIDD benchmark file of 1 x 2 blocks and a DND folder of one image, in the official formats."""
    import numpy as np
    import scipy.io

    from helpers import blocks, write_dnd_info_v73, write_v73

    folder.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(folder / "BenchmarkNoisyBlocksSrgb.mat", {"BenchmarkNoisyBlocksSrgb": blocks(3, (1, 2))})
    dnd = folder / "dnd_2017"
    (dnd / "images_srgb").mkdir(parents=True)
    write_v73(dnd / "images_srgb" / "0001.mat",
              {"InoisySRGB": np.random.default_rng(0).random((520, 530, 3)).astype(np.float32)})
    write_dnd_info_v73(dnd / "info.mat", [np.array([[1 + k % 3, 1 + k % 5, 512 + k % 3, 512 + k % 5] for k in range(20)])])
    return {"sidd_benchmark": str(folder / "BenchmarkNoisyBlocksSrgb.mat"), "dnd": str(dnd), "sidd_grid": [1, 2],
            "dnd_images": 1, "sidd_medium": None, "sidd_val_noisy": None, "sidd_val_gt": None}


@pytest.fixture(scope="module")
def dag_run(tmp_path_factory):
    from helpers import BUNDLED, crop_folder

    tmp = tmp_path_factory.mktemp("dag")
    data = {
        "train": crop_folder(BUNDLED / "train_mini", tmp / "train", ["0_0", "0_1", "0_2"], 64, ("Noisy", "GT", "LQ")),
        "val": crop_folder(BUNDLED / "val_mini", tmp / "val", ["0_0", "0_1", "0_2"], 32),
    }
    raw = tiny_run_config(data, iterations=3, val_every=0, noise_gain_max=2.0, channel_shuffle=True)
    raw["preset"] = "smoke"  # over the smoke preset, as a user's own config would be
    raw["train"]["seeds"] = [0, 1]
    raw["evaluate"] = {"modes": ["single", "mc"], "mc_samples": 2, "save_samples": 1, "mc_sweep": [1, 2],
                       "akld_samples": 2, "pgap_generators": ["invdn", "awgn"]}
    raw["baselines"] = {"classical": ["bicubic_down_up", "nlm"],
                        "networks": {"dncnn": {"network": "dncnn", "depth": 3, "features": 8, "train": {}},
                                     "blind_spot": None},
                        "train": {"iterations": 2, "seeds": [0]}, "noise_models": ["awgn"]}
    # the grid on the main run's schedule (smoke's shorter grid schedule set back key by key), so the
    # main run stands in for the main setting; two seeds, so differences are paired by seed
    from invdn.pipeline.presets import compose

    smoke_train = compose("smoke", root=REPO)["train"]
    same_as_main = {k: raw["train"].get(k, smoke_train[k]) for k in ("iterations", "batch_size", "patch_size", "lr",
                                                                     "val_every", "checkpoint_every", "log_every")}
    raw["ablations"] = {**TINY_GRID, "table3": None, "fig5b": None, "val_images": 0,
                        "train": {**same_as_main, "seeds": [0, 1], "lr_milestones": [300, 400, 450], "val_images": 4,
                                  "nan_rollbacks": 0}}
    weights = write_released_weights(tmp / "downloads")
    raw["released"] = {"weights": {k: str(v) for k, v in weights.items()}, "modes": ["single", "x8"], "mc_samples": 2}
    raw["datasets"] = write_benchmarks(tmp / "downloads")
    raw["job_threads"] = 1  # jobs side by side, as the smoke config
    raw["mlflow"] = {}
    config = tmp / "tiny.yaml"
    config.write_text(yaml.safe_dump(raw))
    work = tmp / "work"
    first = snakemake(work, config)
    return work, config, first


R = Path("results") / "tiny"


def _json(work: Path, path) -> dict:
    return json.loads((work / path).read_text())


def test_dag_writes_table2_from_the_metrics_files(dag_run):
    work, _, first = dag_run
    assert first.returncode == 0, first.stderr[-3000:]
    tex = (work / R / "tables" / "table2.tex").read_text()
    md = (work / R / "tables" / "table2.md").read_text().replace("**", "")
    uri = f"sqlite:///{work}/results/mlflow.db"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)  # never a registry another test set globally
    for mode, label in (("single", "single draw"), ("mc", "MC-2")):
        recs = [_json(work, R / "eval" / "invdn" / f"seed{s}" / f"{mode}.json") for s in (0, 1)]
        assert [r["train_seed"] for r in recs] == [0, 1]
        means = [r["mean"]["psnr"] for r in recs]
        # the row: mean over the two seeds, their sd and range, then the interval over images
        cell = f"{np.mean(means):.2f} ± {np.std(means, ddof=1):.2f} ({min(means):.2f}–{max(means):.2f}) ["
        line = next(l for l in md.splitlines() if l.startswith(f"| InvDN (reproduced here, {label})"))
        assert cell in line, line
        gmac = _json(work, R / "profile" / "profile.json")["gmac"]
        assert f"| {gmac:.2f} |" in line
        for r in recs:
            run = client.get_run(r["mlflow"]["run_id"])
            assert run.info.status == "FINISHED" and run.data.tags["snakemake_rule"] == "evaluate"
            assert run.data.metrics["psnr"] == r["mean"]["psnr"]
    for name in ("official", "paddle"):
        for mode, label in (("single", "single draw"), ("x8", "x8")):
            rec = _json(work, R / "eval" / "released" / name / f"{mode}.json")
            assert rec["released"] == name and rec["train_seed"] is None
            line = next(l for l in md.splitlines() if l.startswith(f"| InvDN (released weights {name}, {label})"))
            assert f"{rec['mean']['psnr']:.2f} [" in line
    # the two files hold the same weights: the same outputs, so the same numbers
    scores = [[(i["name"], i["protocols"]) for i in _json(work, R / "eval/released" / n / "x8.json")["images"]]
              for n in ("official", "paddle")]
    assert scores[0] == scores[1]
    assert "smoke-scale numbers" in md and "tiny val, 3 images" in md
    assert "augmentations not in the paper: real noise residual scaled by a random gain in [1, 2]" in md
    assert "random RGB channel permutation" in md and "mean over 2 training seeds" in md
    assert r"\begin{table*}" in tex and r"$\pm$" in tex
    exp = client.get_experiment_by_name("invdn-repro")
    found = client.search_runs([exp.experiment_id])
    (dag,) = [r for r in found if r.data.tags.get("stage") == "dag"]  # the DAG invocation's run, holding its config
    jobs = [r for r in found if r.data.tags.get("stage") != "dag"]
    # per seed: train, evaluate x2, mc_sweep, akld; profile; baselines: bicubic, nlm, dncnn (train + evaluate),
    # awgn akld; grid: squeeze and gradient-loss variants, train + evaluate per seed; released: 2 files x 2 modes
    assert sorted(r.info.status for r in found) == ["FINISHED"] * (2 * 5 + 1 + 5 + 2 * 2 * 2 + 4 + 1)
    assert {r.data.tags["mlflow.parentRunId"] for r in jobs} == {dag.info.run_id}
    assert len({r.data.tags["job.key"] for r in jobs}) == len(jobs)  # one run per job
    assert dag.data.params["name"] == "tiny" and dag.data.params["evaluate.mc_samples"] == "2"
    # the best main seed's model in the Model Registry under the preset's alias
    registered = _json(work, R / "registry" / "registered_model.json")
    best = max(_json(work, R / "eval" / "invdn" / f"seed{s}" / "single.json")["mean"]["psnr"] for s in (0, 1))
    assert registered["uri"] == "models:/invdn@smoke" and registered["psnr"] == best
    assert client.get_model_version_by_alias("invdn", "smoke").run_id == registered["source"].split("/")[1]
    for label, path in (("Bicubic x4 down-up", "eval/baselines/bicubic_down_up.json"), ("NLM", "eval/baselines/nlm.json"),
                        ("DnCNN", "eval/baselines/dncnn/seed0.json")):
        rec = _json(work, R / path)
        line = next(l for l in md.splitlines() if l.startswith(f"| {label} (measured here)"))
        assert f"{rec['mean']['psnr']:.2f} [" in line
    assert "dncnn, trained here at smoke scale" in md and "*Reported" in md
    for log in ("logs/tiny/train/invdn/seed0/model.log", "logs/tiny/eval/invdn/seed1/mc.log", "logs/tiny/tables/table2.log"):
        assert (work / log).is_file(), log


def test_released_weights_are_turned_into_benchmark_submissions(dag_run):
    work, _, first = dag_run
    assert first.returncode == 0, first.stderr[-3000:]
    import zipfile

    import scipy.io

    for name in ("official", "paddle"):
        base = work / R / "submission" / "released" / name
        assert zipfile.ZipFile(base / "sidd" / "submission.zip").namelist() == ["SubmitSrgb.mat"]
        assert scipy.io.loadmat(base / "sidd" / "SubmitSrgb.mat")["DenoisedBlocksSrgb"].shape == (1, 2)
        assert zipfile.ZipFile(base / "dnd" / "submission.zip").namelist() == ["0001.mat"]
    # the same weights in two formats: the same submission
    a, b = (scipy.io.loadmat(work / R / "submission/released" / n / "sidd/SubmitSrgb.mat")["DenoisedBlocksSrgb"]
            for n in ("official", "paddle"))
    assert np.array_equal(a[0, 1], b[0, 1])


def test_every_table_compiles_and_fits_its_column(dag_run, tmp_path):
    from helpers import compile_tables

    work, _, first = dag_run
    assert first.returncode == 0, first.stderr[-3000:]
    tables = sorted((work / R / "tables").glob("*.tex"))
    assert {t.stem for t in tables} >= {"table2", "cost", "mc", "table5", "fig5a", "table4"}
    compile_tables(tables, tmp_path)


def test_dag_writes_the_mc_table_and_table5(dag_run):
    work, _, first = dag_run
    assert first.returncode == 0, first.stderr[-3000:]
    sweeps = [_json(work, R / "analysis" / f"seed{s}" / "mc_sweep.json") for s in (0, 1)]
    assert [w["train_seed"] for w in sweeps] == [0, 1]
    mc = (work / R / "tables" / "mc.md").read_text()
    assert mc.count("**") >= 4  # the best mean PSNR and SSIM are bold
    mc = mc.replace("**", "")
    for k in (1, 2):
        means = [next(c["psnr"] for c in w["curve"] if c["mc_samples"] == k) for w in sweeps]
        assert f"| {k} | {np.mean(means):.2f} ± {np.std(means, ddof=1):.2f} ({min(means):.2f}–{max(means):.2f}) [" in mc
    aklds = [_json(work, R / "analysis" / f"seed{s}" / "akld.json")["akld"] for s in (0, 1)]
    t5 = (work / R / "tables" / "table5.md").read_text().replace("**", "")
    g = lambda v: f"{v:.3g}"  # noqa: E731
    assert (f"InvDN (L = 2, ε = 0.0002) | {g(np.mean(aklds))} ± {g(np.std(aklds, ddof=1))} "
            f"({g(min(aklds))}–{g(max(aklds))}) [") in t5
    awgn = _json(work, R / "analysis" / "noise_models" / "awgn" / "akld.json")
    assert f"AWGN (L = 2) | {g(awgn['akld'])} [" in t5
    assert (work / R / "analysis" / "seed0" / "mc_sweep_residuals.jpg").is_file()


def test_ledger_decides_every_claim_from_the_tables_and_names_the_runs(dag_run):
    work, _, first = dag_run
    assert first.returncode == 0, first.stderr[-3000:]
    import csv

    with open(work / "results" / "tiny" / "ledger.csv", newline="") as f:
        rows = {r["id"]: r for r in csv.DictReader(f)}
    claims = yaml.safe_load((REPO / "results" / "claims.yaml").read_text())["claims"]
    assert list(rows) == [c["id"] for c in claims]
    # the architecture's claims are decided at any scale; the trained model's wait for paper scale
    # the cost table counts the paper's architecture from the code, whatever the run trained
    assert rows["parameters"]["verdict"] == "reproduced" and rows["cost"]["verdict"] == "reproduced"
    assert rows["sidd_psnr"]["verdict"] == "inconclusive"
    assert rows["sidd_psnr"]["reason"].startswith("smoke scale: 3 iterations, the claim is about 600000 iterations")
    table2 = list(csv.DictReader(open(work / R / "tables" / "table2.csv", newline="")))
    single = next(r for r in table2 if r["method"] == "InvDN (reproduced here, single draw)")
    assert rows["sidd_psnr"]["run_ids"] == single["run_ids"] != ""
    md = (work / "results" / "tiny" / "ledger.md").read_text()
    assert f"{len(claims)} claims: " in md and "at smoke scale" in md


def test_benchmark_table_has_a_row_per_training_and_evaluation_job(dag_run):
    """Each training and evaluation job wrote a Snakemake benchmark file; the table holds one row per file
    with the seconds Snakemake measured, read back from the TSV."""
    import csv

    work, _, first = dag_run
    assert first.returncode == 0, first.stderr[-3000:]
    root = work / R / "benchmarks"
    files = sorted(root.rglob("*.tsv"))
    rows = {r["job"]: r for r in csv.DictReader(open(work / R / "tables" / "benchmarks.csv"))}
    assert set(rows) == {str(f.relative_to(root).with_suffix("")) for f in files}
    assert {"train/invdn/seed0/model", "train/invdn/seed1/model", "eval/invdn/seed0/single", "eval/invdn/seed1/mc",
            "train/baselines/dncnn/seed0/model", "eval/baselines/nlm", "eval/released/official/x8"} <= set(rows)
    for f in files:
        seconds = float(next(csv.DictReader(open(f), delimiter="\t"))["s"])
        assert float(rows[str(f.relative_to(root).with_suffix(""))]["seconds"]) == seconds > 0


def test_second_run_has_nothing_to_do(dag_run):
    work, config, first = dag_run
    assert first.returncode == 0
    second = snakemake(work, config)
    assert second.returncode == 0
    assert "Nothing to be done" in second.stdout + second.stderr


def test_pgap_target_trains_on_generated_pairs_and_writes_the_table(dag_run):
    work, config, first = dag_run
    assert first.returncode == 0
    run = snakemake(work, config, "pgap_all")
    assert run.returncode == 0, run.stderr[-3000:]
    table = (work / R / "tables" / "pgap.md").read_text()
    assert "harness protocol" in table
    for seed in (0, 1):
        base = work / R / "pgap" / f"seed{seed}" / "invdn"
        manifest = json.loads((base / "train" / "manifest.json").read_text())
        assert manifest["generator"] == "invdn" and len(manifest["pairs"]) == 3
        assert {p.name for p in (base / "train" / "GT").iterdir()} == {p.name for p in (base / "train" / "Noisy").iterdir()}
        record = json.loads((base / "pgap.json").read_text())
        real = _json(work, R / "eval" / "invdn" / f"seed{seed}" / "single.json")
        generated = json.loads((base / "eval.json").read_text())
        assert record["psnr_real"] == pytest.approx(real["mean"]["psnr"], abs=1e-9)
        assert record["pgap"] == pytest.approx(real["mean"]["psnr"] - generated["mean"]["psnr"], abs=1e-9)
        assert record["train_seed"] == seed
    gaps = [json.loads((work / R / "pgap" / f"seed{s}" / "invdn" / "pgap.json").read_text())["pgap"] for s in (0, 1)]
    assert f"| invdn | " in table and f"| {np.mean(gaps):.3f} ± {np.std(gaps, ddof=1):.3f} (" in table
    # a noise model as the generator: new noise on the same clean images, fitted per training image
    awgn = work / R / "pgap" / "seed0" / "awgn"
    assert json.loads((awgn / "train" / "manifest.json").read_text())["generator"] == "awgn"
    first_noisy = sorted((awgn / "train" / "Noisy").iterdir())[0]
    assert first_noisy.read_bytes() != (work / R / "pgap/seed0/invdn/train/Noisy" / first_noisy.name).read_bytes()


def test_ablation_tables_pair_seeds_and_curves_come_from_the_grid(dag_run):
    work, _, first = dag_run
    assert first.returncode == 0, first.stderr[-3000:]
    squeeze_name = "down2-inv1-squeeze-resnet-fwd_l2-bwd_charbonnier"
    main = [_json(work, R / "eval" / "invdn" / f"seed{s}" / "single.json") for s in (0, 1)]
    squeeze = [_json(work, R / "eval" / "ablations" / squeeze_name / f"seed{s}" / "single.json") for s in (0, 1)]
    fig5a = (work / R / "tables" / "fig5a.md").read_text().replace("**", "")
    # the main setting is the main run's own evaluation; the difference is paired by seed
    means = [m["mean"]["psnr"] for m in main]
    assert f"| haar | {np.mean(means):.2f} ± {np.std(means, ddof=1):.2f} (" in fig5a
    diffs = [s_["mean"]["psnr"] - m["mean"]["psnr"] for s_, m in zip(squeeze, main)]
    line = next(l for l in fig5a.splitlines() if l.startswith("| squeeze |"))
    assert f"{np.mean(diffs):+.2f} ± {np.std(diffs, ddof=1):.2f}" in line
    assert "− haar (dB)" in fig5a
    table4 = (work / R / "tables" / "table4.md").read_text()
    assert "| L2 / Charbonnier + 0.1 gradient | " in table4 and "| 38.73 | " in table4  # the paper's column 4
    assert "| L2 / Charbonnier | " in table4 and "| 38.88 | " in table4
    assert squeeze[1]["checkpoint"].endswith(f"ablations/{squeeze_name}/seed1/model.pt")
    for study in ("fig5a", "table4"):
        assert (work / R / "tables" / f"{study}.tex").read_text().count(r"\textbf{") >= 1
        assert (work / R / "figures" / f"{study}_curves.png").stat().st_size > 0


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
    jobs = _job_stats(out)
    # the new variant, once per grid seed (its jobs' benchmark files are new rows of the benchmark table)
    assert jobs == {"train_ablation": 2, "evaluate_ablation": 2, "ablation_table": 1, "ablation_curves": 1, "ledger": 1,
                    "benchmark_table": 1, "all": 1}
    assert "down2-inv1-haar-resnet-fwd_l2-bwd_charbonnier-grad0.2" in out and "wildcards: study=table4" in out


def test_editing_a_training_setting_reruns_that_training_and_what_reads_it(dag_run):
    """Snakemake compares params that read no input or output; each rule's command, with its files as
    placeholders, is such a param (`command` in common.smk), so a changed setting reruns its jobs."""
    work, config, first = dag_run
    assert first.returncode == 0
    raw = yaml.safe_load(config.read_text())
    raw["train"]["lr"] = raw["train"].get("lr", 5e-4) * 0.5
    raw["ablations"]["train"]["lr"] = raw["train"]["lr"]  # the grid keeps sharing the main run
    edited = config.with_name("tiny-lr.yaml")
    edited.write_text(yaml.safe_dump(raw))
    plan = snakemake(work, edited, "-n")
    assert plan.returncode == 0, plan.stderr[-3000:]
    jobs = _job_stats(plan.stdout + plan.stderr)
    assert jobs["train"] == 2 and jobs["evaluate"] == 4 and jobs["mc_sweep"] == 2
    assert "Params have changed since last execution" in plan.stdout + plan.stderr
    # what does not read the main model stays: the baselines and the released weights
    assert not {"evaluate_classical", "train_baseline", "evaluate_released", "cost_table"} & set(jobs)


def _copy_tree(src: Path, dst: Path) -> Path:
    """A copy of a DAG's working directory (outputs, logs, MLflow store, Snakemake's metadata)."""
    import shutil

    shutil.copytree(src, dst, symlinks=True)
    return dst


def _job_stats(out: str) -> dict[str, int]:
    """Snakemake's "Job stats" table of a dry run: jobs by rule ({} when there is nothing to do)."""
    if "Job stats" not in out:
        return {}
    table = out[out.index("Job stats"):].split("\n\n")[0].splitlines()[3:]  # below the header and its rule
    return {name: int(count) for name, count in (line.split() for line in table) if name != "total"}


def test_editing_a_module_replans_exactly_the_jobs_whose_stage_imports_it(dag_run, tmp_path):
    """Code versions come from each stage's import closure: in a copy of the workflow and the
    packages, an edit to one module re-plans the jobs whose stage imports it (and what reads their
    outputs), and nothing else."""
    import shutil

    work, config, first = dag_run
    assert first.returncode == 0
    copy, work = tmp_path / "repo", _copy_tree(work, tmp_path / "work")  # the module's DAG stays as it is
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("invdn", "baselines", "workflow", "results"):
        shutil.copytree(REPO / folder, copy / folder, ignore=ignore)
    shutil.copy2(REPO / "Snakefile", copy / "Snakefile")

    def plan(*extra: str) -> dict[str, int]:
        env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
        done = subprocess.run([sys.executable, "-m", "snakemake", *(extra or ["-n"]), "--snakefile",
                               str(copy / "Snakefile"), "--directory", str(work), "--configfile", str(config),
                               "--cores", "2"], env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        return _job_stats(done.stdout + done.stderr)

    # the tables name the copy's reference numbers (a new path): let them rerun once, then nothing is left
    assert not {r for r in plan() if r.startswith(("train", "evaluate"))}
    plan("--quiet")

    def edited(module: str) -> dict[str, int]:
        path = copy / module
        original = path.read_text()
        path.write_text(original + "\n# edited\n")
        try:
            return plan()
        finally:
            path.write_text(original)

    assert plan() == {}  # the copy plans what the repository planned: nothing
    tables = {"table2", "cost_table", "mc_table", "table5", "ablation_table", "ledger", "all"}
    assert set(edited("invdn/reporting/table2.py")) == tables  # the table stage only, no model is touched
    analysis = edited("invdn/analysis/mc_sweep.py")
    # the analysis stage (MC sweep, AKLD, cost profile), its noise-model twin, and the tables that read them
    assert {"mc_sweep", "akld", "profile", "akld_noise_model", "mc_table", "table5"} <= set(analysis)
    assert not {r for r in analysis if r.startswith("train") or r in ("evaluate", "evaluate_ablation")}
    assert analysis["mc_sweep"] == 2  # one per training seed
    training = edited("invdn/engine/loop.py")
    assert {"train", "train_ablation", "train_baseline"} <= set(training)
    assert edited("invdn/cli/presets.py") == {}  # a command no rule runs


def test_report_gathers_tables_figures_and_gallery(dag_run):
    work, config, first = dag_run
    assert first.returncode == 0
    report = work / "report.html"
    run = snakemake(work, config, "--report", str(report))
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout + run.stderr
    for name in ("table2.csv", "table5.csv", "mc.csv", "fig5a.csv", "benchmarks.csv", "table4_curves.png",
                 "mc_sweep_residuals.jpg", "latent_pca.png", "generated_noise.jpg", "gallery.jpg",
                 "noise_residuals.jpg"):
        assert f"Adding {name}" in out
    # the gallery's panels stay lossless PNGs beside it, out of the report (its JPEG figures show them)
    assert (work / R / "figures" / "gallery" / "0_0_noisy.png").is_file() and "Adding 0_0_noisy" not in out
    assert 100_000 < report.stat().st_size < 5_000_000
