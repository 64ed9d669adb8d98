"""An interrupted reproduction equals an uninterrupted one (issue 20).

The real DAG on a small config (train -> evaluate single/MC -> MC sweep -> a classical baseline ->
tables and the ledger) is run once uninterrupted. Then, from clean:

- its snakemake process group is killed with SIGKILL at seeded random moments, and snakemake is started
  again after each kill exactly as README says (the same command, nothing else);
- two invocations are started on one results folder at once;
- it runs on a file system that fills up mid-DAG, and is rerun after space is freed.

Each time, the tables (tex, csv, md) and metrics JSON must equal the uninterrupted run's, apart from the
fields :data:`VOLATILE` lists; the MLflow store must hold one run per job, none RUNNING, and no
artifact folder without its run.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from mlflow.tracking import MlflowClient

from helpers import BUNDLED, REPO, crop_folder, snakemake, tiny_run_config

pytestmark = pytest.mark.slow

R = Path("results") / "tiny"
SEED = 20261203  # the kill moments' generator
KILLS = 5
# What differs between two runs of the same jobs: wall-clock timings, MLflow run ids and the URIs
# naming them. JSON keys; table columns (csv, md, tex) by header; run ids in any text.
VOLATILE_KEYS = {"run_id", "train_run_id", "tracking_uri", "artifact_uri", "started", "finished"}
TIMING = re.compile(r"seconds|s_per_|per_s\b|s/image|wall|elapsed|time", re.I)
RUN_ID = re.compile(r"\b[0-9a-f]{32}\b")
# Tables that are measurements through and through (Snakemake's benchmark: wall time, peak RSS, CPU time
# of each job): only which jobs they list is compared.
MEASUREMENTS = ("tables/benchmarks.",)


def _config(tmp: Path) -> Path:
    data = {
        "train": crop_folder(BUNDLED / "train_mini", tmp / "train", ["0_0", "0_1"], 64, ("Noisy", "GT", "LQ")),
        "val": crop_folder(BUNDLED / "val_mini", tmp / "val", ["0_0", "0_1"], 32),
    }
    raw = tiny_run_config(data, iterations=40, checkpoint_every=4, val_every=0, log_every=2)
    raw["preset"] = "smoke"
    raw["train"]["seeds"] = [0]
    raw["evaluate"] = {"modes": ["single", "mc"], "mc_samples": 2, "save_samples": 1, "mc_sweep": [1, 2],
                       "akld_samples": 2, "pgap_generators": []}
    raw["baselines"] = {"classical": ["bicubic_down_up"], "networks": {"dncnn": None, "blind_spot": None},
                        "noise_models": []}
    raw["ablations"] = {"fig5a": None, "fig5b": None, "table3": None, "table4": None}
    raw["job_threads"] = 1
    raw["mlflow"] = {}
    path = tmp / "faults.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _start(work: Path, config: Path) -> subprocess.Popen:
    """`snakemake --cores 2` as README gives it (the default profile adds rerun-incomplete and
    show-failed-logs), in a process group of its own (what a terminal's Ctrl-C or a
    node's loss hits: snakemake and every job it started)."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(work),
           "--configfile", str(config), "--cores", "2"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def _normalise(value):
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items() if k not in VOLATILE_KEYS and not TIMING.search(k)}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return RUN_ID.sub("<run-id>", value) if isinstance(value, str) else value


def _drop_timing_columns(text: str, suffix: str) -> str:
    """Blank the cells of timing columns: found by their header cell, in every row of that table."""
    split = {".csv": lambda line: line.split(","), ".md": lambda line: line.split("|"),
             ".tex": lambda line: line.split("&")}[suffix]
    join = {".csv": ",", ".md": "|", ".tex": "&"}[suffix]
    out, timing = [], set()
    for line in text.splitlines():
        cells = split(line)
        if (suffix == ".md" and len(cells) < 2) or (suffix == ".tex" and line.startswith("\\end{tabular}")):
            timing = set()  # the table ended
        elif len(cells) < 2:
            pass
        elif any(TIMING.search(c) for c in cells):
            timing = {i for i, c in enumerate(cells) if TIMING.search(c)}
        else:
            cells = ["<timing>" if i in timing else c for i, c in enumerate(cells)]
        out.append(join.join(cells))
    return RUN_ID.sub("<run-id>", "\n".join(out))


def compared_files(work: Path) -> dict[str, object]:
    """The tables (tex, csv, md) and the metrics JSON files under results/tiny, normalised."""
    out = {}
    for path in sorted((work / R).rglob("*")):
        rel = str(path.relative_to(work / R))
        if path.suffix == ".json" and "/checkpoints/" not in f"/{rel}":
            out[rel] = _normalise(json.loads(path.read_text()))
        elif path.suffix in (".tex", ".csv", ".md") and rel.startswith(MEASUREMENTS):
            sep, job = {".csv": (",", 0), ".md": ("|", 1), ".tex": ("&", 0)}[path.suffix]
            out[rel] = [(line.split(sep) + [""])[job] for line in path.read_text().splitlines()]  # the job column
        elif path.suffix in (".tex", ".csv", ".md"):
            out[rel] = _drop_timing_columns(path.read_text(), path.suffix)
    return out


def store_summary(work: Path) -> dict:
    """The jobs' runs (by name) and their statuses; any run still RUNNING (the jobs' or a DAG
    invocation's parent run); the count of DAG runs; artifact folders without a run."""
    client = MlflowClient(tracking_uri=f"sqlite:///{work}/results/mlflow.db")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()], max_results=10000)
    jobs = [r for r in runs if r.data.tags.get("snakemake_rule")]  # the jobs' runs (not a DAG parent run)
    ids = {r.info.run_id for r in runs}
    folders = [p for p in (work / "results" / "mlartifacts").glob("*/*") if p.is_dir()]
    return {
        "statuses": sorted({r.info.status for r in jobs}),
        "running": sorted(r.data.tags.get("mlflow.runName", "") for r in runs if r.info.status == "RUNNING"),
        "dag_runs": sum(r.data.tags.get("stage") == "dag" for r in runs),
        "names": sorted(r.data.tags.get("mlflow.runName", "") for r in jobs),
        "orphans": sorted(str(p) for p in folders if p.name not in ids and p.name != "models"),
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    config = _config(tmp)
    work = tmp / "uninterrupted"
    t0 = time.monotonic()
    done = snakemake(work, config)
    seconds = time.monotonic() - t0
    assert done.returncode == 0, done.stderr[-3000:]
    return {"config": config, "tmp": tmp, "seconds": seconds, "files": compared_files(work),
            "store": store_summary(work)}


def _assert_same_as_reference(work: Path, reference: dict) -> None:
    files = compared_files(work)
    assert sorted(files) == sorted(reference["files"])
    differing = [k for k in files if files[k] != reference["files"][k]]
    assert not differing, f"differ from the uninterrupted run: {differing}"
    store = store_summary(work)
    assert store["statuses"] == ["FINISHED"], store["statuses"]
    assert store["names"] == reference["store"]["names"]  # one run per job, as uninterrupted
    assert store["running"] == [] and store["orphans"] == []


def test_uninterrupted_reference_is_consistent(reference):
    assert reference["store"]["statuses"] == ["FINISHED"] and reference["store"]["running"] == []
    assert reference["store"]["orphans"] == [] and reference["store"]["dag_runs"] == 1
    assert len(reference["store"]["names"]) == len(set(reference["store"]["names"])) > 5
    assert any(k.startswith("tables/") and k.endswith(".tex") for k in reference["files"])
    assert any(k.startswith("eval/") and k.endswith(".json") for k in reference["files"])


def test_killed_and_restarted_dag_equals_the_uninterrupted_one(reference):
    work = reference["tmp"] / "killed"
    rng = np.random.default_rng(SEED)
    log = {"seed": SEED, "uninterrupted_s": round(reference["seconds"], 1), "attempts": []}
    kills = 0
    while kills < KILLS and len(log["attempts"]) < 3 * KILLS:
        delay = float(rng.uniform(3.0, 0.2 * reference["seconds"]))  # short enough that 5 kills come before the end
        proc = _start(work, reference["config"])
        try:
            proc.wait(timeout=delay)
            outcome = "finished before the kill"
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
            outcome = "killed"
        output = proc.stdout.read()
        assert "cannot be locked" not in output, output[-3000:]
        log["attempts"].append({"delay_s": round(delay, 2), "outcome": outcome, "returncode": proc.returncode,
                                "jobs_done": output.count("Finished jobid") + output.count("Finished job ")})
        if outcome != "killed":
            assert proc.returncode == 0, output[-3000:]
            break
    final = _start(work, reference["config"])
    output, _ = final.communicate(timeout=900)
    log["attempts"].append({"delay_s": None, "outcome": "final", "returncode": final.returncode})
    (reference["tmp"] / "kills.json").write_text(json.dumps(log, indent=1))
    print(json.dumps(log, indent=1))
    assert final.returncode == 0, output[-3000:]
    assert kills >= KILLS, log
    _assert_same_as_reference(work, reference)


def test_second_concurrent_invocation_is_refused_and_the_first_completes(reference):
    work = reference["tmp"] / "concurrent"
    first = _start(work, reference["config"])
    try:
        deadline = time.monotonic() + 120
        while not (work / ".snakemake" / "locks").is_dir() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert first.poll() is None, "the first invocation ended before the second started"
        second = snakemake(work, reference["config"])
    finally:
        output, _ = first.communicate(timeout=900)
    assert first.returncode == 0, output[-3000:]
    assert second.returncode != 0
    said = second.stdout + second.stderr
    assert "holds this folder's Snakemake lock" in said and "cannot be locked" in said, said[-3000:]
    _assert_same_as_reference(work, reference)


def _mount_tmpfs(point: Path, size: str) -> bool:
    point.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
                          capture_output=True).returncode == 0


def test_full_disk_mid_dag_fails_clearly_and_the_rerun_completes(reference):
    point = reference["tmp"] / "small_disk"
    used = sum(p.stat().st_size for p in (reference["tmp"] / "uninterrupted").rglob("*") if p.is_file())
    if not _mount_tmpfs(point, f"{used // 2}"):
        pytest.skip("needs root to mount a size-limited tmpfs (the disk that fills up)")
    try:
        work = point / "work"
        full = _start(work, reference["config"])
        said, _ = full.communicate(timeout=900)
        assert full.returncode != 0
        # the failing job's log (printed by the profile's show-failed-logs) names the file and the cause
        assert re.search(r"cannot write \S+: No space left on device; the disk may be full", said), said[-3000:]
        # nothing truncated looks valid: what the failed DAG left parses (JSON) or decodes (PNG)
        from PIL import Image

        for path in (work / R).rglob("*.json"):
            json.loads(path.read_text())
        for path in (work / R).rglob("*.png"):
            Image.open(path).load()
        subprocess.run(["mount", "-o", f"remount,size={4 * used}", str(point)], check=True)
        again = _start(work, reference["config"])
        said, _ = again.communicate(timeout=900)
        assert again.returncode == 0, said[-3000:]
        _assert_same_as_reference(work, reference)
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)
