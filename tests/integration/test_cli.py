"""The command-line tool end to end on tiny real data: train -> evaluate -> table2, and its errors."""
import json
import re
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

from invdn.cli import main

from helpers import REPO, psnr_cell, tiny_run_config


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def runs(uri, stage=None):
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("invdn-repro")
    found = client.search_runs([exp.experiment_id])
    return [r for r in found if stage is None or r.data.tags.get("stage") == stage]


@pytest.fixture
def workspace(tiny_data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(tiny_run_config(tiny_data, iterations=3, val_every=3)))
    return {"cfg": cfg, "uri": f"sqlite:///{tmp_path}/mlflow.db", "data": tiny_data, "tmp": tmp_path}


def test_train_evaluate_table(workspace):
    w = workspace
    r = invoke("train", "--config", w["cfg"], "--out-dir", "run", "--tracking-uri", w["uri"], "--no-progress",
               "--tag", "snakemake_rule=train")
    assert r.exit_code == 0, r.output
    (train_run,) = runs(w["uri"], "train")
    assert train_run.info.status == "FINISHED"
    assert train_run.data.params["train.iterations"] == "3" and train_run.data.tags["snakemake_rule"] == "train"
    assert {"loss", "loss_forward", "loss_backward", "val_psnr", "iterations_per_s"} <= set(train_run.data.metrics)

    files = {}
    for mc in (1, 3):
        out = w["tmp"] / f"m{mc}.json"
        r = invoke("evaluate", "--checkpoint", "run/model.pt", "--data", w["data"]["val"], "--mc-samples", mc,
                   "--mode", "single" if mc == 1 else "mc",
                   "--out", out, "--tracking-uri", w["uri"], "--no-progress", "--save-samples", 1)
        assert r.exit_code == 0, r.output
        files[mc] = out
        rec = json.loads(out.read_text())
        assert rec["protocol"] == "canonical" and rec["mc_samples"] == mc and rec["mode"] == ("single" if mc == 1 else "mc")
        assert rec["num_images"] == 2 and rec["mean"]["psnr"] == pytest.approx(np.mean([i["psnr"] for i in rec["images"]]), abs=1e-12)
        tracked = MlflowClient(tracking_uri=w["uri"]).get_run(rec["mlflow"]["run_id"])
        assert tracked.data.metrics["psnr"] == rec["mean"]["psnr"] and tracked.info.status == "FINISHED"
        # the evaluation names the training run of its weights, and both name the commit MLflow's way
        assert tracked.data.tags["train_run_id"] == train_run.info.run_id
        assert tracked.data.tags["mlflow.source.git.commit"] == train_run.data.tags["git_commit"]
    # rerunning an evaluation reproduces its numbers (z is seeded per image)
    again = w["tmp"] / "again.json"
    r = invoke("evaluate", "--checkpoint", "run/model.pt", "--data", w["data"]["val"], "--mode", "mc",
               "--mc-samples", 3, "--out", again, "--tracking-uri", w["uri"], "--no-progress")
    assert r.exit_code == 0, r.output
    assert json.loads(again.read_text())["images"][0]["psnr"] == json.loads(files[3].read_text())["images"][0]["psnr"]

    blur = w["tmp"] / "blur.json"
    r = invoke("evaluate-baseline", "--method", "bicubic_down_up", "--data", w["data"]["val"], "--out", blur,
               "--tracking-uri", w["uri"], "--no-progress", "--data-name", "tiny val")
    assert r.exit_code == 0, r.output
    assert json.loads(blur.read_text())["method"] == "bicubic_down_up"

    prof = w["tmp"] / "profile.json"
    r = invoke("profile", "--checkpoint", "run/model.pt", "--size", 32, "--repeats", 1, "--out", prof,
               "--tracking-uri", w["uri"])
    assert r.exit_code == 0 and "GMAC" in r.output, r.output
    gmac = json.loads(prof.read_text())["gmac"]

    tex = w["tmp"] / "table2.tex"
    r = invoke("table2", "--metrics", files[1], "--metrics", files[3], "--metrics", blur, "--reference",
               REPO / "results" / "reference_numbers.yaml", "--profile", prof, "--out", tex, "--tracking-uri", w["uri"])
    assert r.exit_code == 0, r.output
    bold = r"\\textbf\{((?:[^{}]|\{[^{}]*\})*)\}"
    measured = tex.read_text().split("Measured here")[1].split("\\bottomrule")[0]
    cells = [c for row in measured.split("\\\\\n") for c in row.split(" & ")]
    assert sum("\\textbf" in c for c in cells) == 2  # the best PSNR and the best SSIM of the measured rows
    text = re.sub(bold, r"\1", tex.read_text())
    for mc, label in ((1, "single draw"), (3, "MC-3")):
        rec = json.loads(files[mc].read_text())
        assert f"InvDN (reproduced here, {label}) & {rec['num_parameters'] / 1e6:.2f} & {gmac:.2f} & " in text
        assert f"{psnr_cell(rec)} & {rec['mean']['ssim']:.4f}$^\\dagger$" in text
    assert "smoke-scale numbers" in text and "\\toprule" in text
    b = json.loads(blur.read_text())
    assert f"Bicubic x4 down-up (measured here) & -- & -- & -- & -- & {psnr_cell(b)}" in text

    # a metrics file that disagrees with MLflow is refused, naming the file
    rec = json.loads(files[1].read_text())
    rec["mean"]["psnr"] += 0.5
    files[1].write_text(json.dumps(rec))
    r = invoke("table2", "--metrics", files[1], "--reference", REPO / "results" / "reference_numbers.yaml",
               "--out", tex, "--tracking-uri", w["uri"])
    assert r.exit_code == 1 and "m1.json: psnr is" in r.output and "MLflow run" in r.output


def test_bad_training_image_fails_the_run_with_the_file_named(workspace):
    w = workspace
    bad = w["data"]["train"] / "Noisy" / "0_1.PNG"
    bad.write_bytes(bad.read_bytes()[:150])
    r = invoke("train", "--config", w["cfg"], "--out-dir", "run", "--tracking-uri", w["uri"], "--no-progress")
    assert r.exit_code == 1
    assert "Noisy/0_1.PNG" in r.output and "truncated" in r.output
    (run,) = runs(w["uri"])
    assert run.info.status == "FAILED"


def test_config_key_of_wrong_type_is_reported(workspace):
    w = workspace
    raw = yaml.safe_load(w["cfg"].read_text())
    raw["train"]["patch_size"] = "big"
    w["cfg"].write_text(yaml.safe_dump(raw))
    r = invoke("train", "--config", w["cfg"], "--out-dir", "run", "--tracking-uri", w["uri"])
    assert r.exit_code == 1 and "tiny.yaml: invalid configuration" in r.output and "train.patch_size: 'big'" in r.output


def test_sigterm_saves_a_checkpoint_and_marks_the_run_killed(workspace):
    w = workspace
    raw = yaml.safe_load(w["cfg"].read_text())
    raw["train"].update(iterations=100000, checkpoint_every=1, val_every=0)
    w["cfg"].write_text(yaml.safe_dump(raw))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "invdn.cli", "train", "--config", str(w["cfg"]), "--out-dir", "run",
         "--tracking-uri", w["uri"], "--no-progress"],
        cwd=w["tmp"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    deadline = time.time() + 120
    while not list((w["tmp"] / "run").glob("checkpoints/*/step*.pt")):
        assert proc.poll() is None and time.time() < deadline, proc.stdout.read() if proc.poll() is not None else "timeout"
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 143, out
    assert "terminated: stopped by signal" in out
    (run,) = runs(w["uri"])
    assert run.info.status == "KILLED"
    kept = sorted((w["tmp"] / "run").glob("checkpoints/*/step*.pt"))
    from invdn.engine import checkpoint

    assert 1 <= len(kept) <= 3 and checkpoint.load(kept[-1])["step"] >= 1  # the newest 3 are kept


def test_cli_mode_choices_are_the_inference_modes():
    from invdn.cli.common import MODES
    from invdn.inference.modes import Mode
    from invdn.reporting.tables import _INFERENCE as _INFERENCE_LABELS

    assert MODES == [m.value for m in Mode] == list(_INFERENCE_LABELS)


def _weights_of(path):
    from invdn.engine import checkpoint

    return checkpoint.load(path)["model"]


def test_kill_9_at_random_steps_then_resume_gives_the_uninterrupted_weights_in_one_mlflow_run(workspace):
    """Hard kills (no handler runs) at several random points: each restart resumes from the newest
    readable checkpoint and continues the same MLflow run; the final weights equal an uninterrupted
    run's bit for bit on CPU; the training has one run, FINISHED, whose loss history has each step
    once, in order; `invdn runs repair` marks the run a kill left RUNNING as FAILED (the next start
    continues it all the same); starting the finished training again adds no run."""
    import random

    w = workspace
    raw = yaml.safe_load(w["cfg"].read_text())
    raw["train"].update(iterations=40, checkpoint_every=1, val_every=0, log_every=1)
    w["cfg"].write_text(yaml.safe_dump(raw))
    cmd = [sys.executable, "-m", "invdn.cli", "train", "--config", str(w["cfg"]), "--tracking-uri", w["uri"],
           "--no-progress"]
    r = subprocess.run(cmd + ["--out-dir", "full"], cwd=w["tmp"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    rng = random.Random(0)
    kills = 0
    for _ in range(3):
        proc = subprocess.Popen(cmd + ["--out-dir", "killed"], cwd=w["tmp"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        before = max([int(p.stem[4:]) for p in (w["tmp"] / "killed").glob("checkpoints/*/step*.pt")] or [0])
        target = before + rng.randint(2, 8)
        deadline = time.time() + 120
        while proc.poll() is None and time.time() < deadline:
            steps = [int(p.stem[4:]) for p in (w["tmp"] / "killed").glob("checkpoints/*/step*.pt")]
            if steps and max(steps) >= target:
                proc.kill()  # SIGKILL: no handler, no checkpoint, the MLflow run stays RUNNING
                kills += 1
                break
            time.sleep(0.01)
        proc.wait(timeout=60)
    assert kills == 3

    def killed_runs():
        return [x for x in runs(w["uri"], "train") if "/killed/" in x.data.tags["job.key"]]

    (left,) = killed_runs()  # every restart continued the first start's run
    assert left.info.status == "RUNNING" and left.data.tags["job.resumes"] == str(kills - 1)
    out = invoke("runs", "repair", "--tracking-uri", w["uri"], "--dry-run")
    assert "1 of 1 RUNNING run(s) would be marked FAILED" in out.output
    out = invoke("runs", "repair", "--tracking-uri", w["uri"])
    assert out.exit_code == 0 and "1 of 1 RUNNING run(s) marked FAILED" in out.output
    assert "marked FAILED by invdn runs repair" in killed_runs()[0].data.tags["repaired"]

    r = subprocess.run(cmd + ["--out-dir", "killed"], cwd=w["tmp"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    a, b = _weights_of(w["tmp"] / "full" / "model.pt"), _weights_of(w["tmp"] / "killed" / "model.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    (run,) = killed_runs()
    assert run.info.run_id == left.info.run_id and run.info.status == "FINISHED"
    assert run.data.tags["job.resumes"] == str(kills)
    client = MlflowClient(tracking_uri=w["uri"])
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "loss")]
    assert steps == list(range(1, 41))  # strictly increasing, no step twice, none missing
    full = [x for x in runs(w["uri"], "train") if "/full/" in x.data.tags["job.key"]][0]
    assert [m.value for m in client.get_metric_history(run.info.run_id, "loss")] == \
        [m.value for m in client.get_metric_history(full.info.run_id, "loss")]  # the same curve as uninterrupted

    before = {x.info.run_id for x in runs(w["uri"])}
    r = subprocess.run(cmd + ["--out-dir", "killed"], cwd=w["tmp"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert {x.info.run_id for x in runs(w["uri"])} == before  # a finished training started again: no new run


def _stable(record):
    """A metrics record without what legitimately differs between two runs: timings, run ids, paths of the run."""
    drop = {"seconds", "seconds_per_image", "seconds_per_megapixel", "mlflow", "checkpoint"}
    if isinstance(record, dict):
        return {k: _stable(v) for k, v in record.items() if k not in drop}
    if isinstance(record, list):
        return [_stable(v) for v in record]
    return record


def test_same_config_and_seed_give_identical_metrics_files(workspace):
    w = workspace
    records = []
    for run in ("a", "b"):
        r = invoke("train", "--config", w["cfg"], "--out-dir", run, "--tracking-uri", w["uri"], "--no-progress")
        assert r.exit_code == 0, r.output
        out = w["tmp"] / f"{run}.json"
        r = invoke("evaluate", "--checkpoint", f"{run}/model.pt", "--data", w["data"]["val"], "--mode", "mc",
                   "--mc-samples", 2, "--out", out, "--tracking-uri", w["uri"], "--no-progress")
        assert r.exit_code == 0, r.output
        records.append(json.loads(out.read_text()))
    assert _stable(records[0]) == _stable(records[1])
    assert records[0]["mlflow"]["run_id"] != records[1]["mlflow"]["run_id"]  # two runs, one result
    # the runs name the same code, packages and data
    tags = [MlflowClient(tracking_uri=w["uri"]).get_run(r["mlflow"]["run_id"]).data.tags for r in records]
    for key in ("git_commit", "version.torch", "data_manifest_sha256"):
        assert tags[0][key] == tags[1][key]
