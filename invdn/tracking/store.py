"""MLflow tracking: the store, experiments, and runs that always end in a terminal state.

Default store: ``sqlite:///results/mlflow.db`` (relative to the working directory) with artifacts
under ``results/mlartifacts``. An explicit URI (``--tracking-uri``, the workflow's config) wins, then
the environment variable ``MLFLOW_TRACKING_URI`` (a team server), then the default. A run that
raises ends FAILED; one interrupted by Ctrl-C or SIGTERM (a scheduler's cancel) ends KILLED; neither
is left RUNNING. A job given a key continues its earlier run when that one did not finish
(``invdn.tracking.jobs``), and a job of a DAG invocation is a child of the invocation's run.
"""
from __future__ import annotations

import contextlib
import os
import socket
import signal
import subprocess
from pathlib import Path
from typing import Iterator

import mlflow
from mlflow.entities import RunStatus
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from invdn.tracking.jobs import (KEY_TAG, RESUMES_TAG, logged_steps, params_to_log, parent_tags, process_alive,
                                 resumable_run)
from invdn.tracking.logger import Terminated

DEFAULT_TRACKING_URI = "sqlite:///results/mlflow.db"
ARTIFACT_ROOT = Path("results/mlartifacts")


def tracking_uri(explicit: str | None = None) -> str:
    """The store to use: ``explicit`` (``--tracking-uri``, the workflow config's), else
    $MLFLOW_TRACKING_URI, else the default ``sqlite:///results/mlflow.db``."""
    return explicit or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def _is_local(uri: str) -> bool:
    return uri.startswith("sqlite:") or uri.startswith("file:") or "://" not in uri


def init_store(uri: str, experiments: list[str]) -> dict[str, str]:
    """Create the store (sqlite schema) and the experiments if absent; return {name: experiment_id}.

    Run this once before parallel jobs: concurrent first-time creation of a sqlite store corrupts it.
    """
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(tracking_uri=uri)
    ids = {}
    for name in experiments:
        exp = client.get_experiment_by_name(name)
        if exp is None:
            location = (ARTIFACT_ROOT.resolve() / name).as_uri() if _is_local(uri) else None
            try:
                ids[name] = client.create_experiment(name, artifact_location=location)
            except MlflowException as e:  # another job created it between our look and our create
                if e.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
                ids[name] = client.get_experiment_by_name(name).experiment_id
        else:
            ids[name] = exp.experiment_id
    return ids


def git_commit(cwd: str | Path | None = None) -> str:
    """The current git commit of ``cwd`` (with ``-dirty`` when it has changes), or ``unknown``."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd, capture_output=True, text=True, timeout=10,
        ).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


VERSIONED_PACKAGES = ("invdn-repro", "torch", "numpy", "scipy", "scikit-image", "mlflow", "snakemake", "pillow", "h5py")


def environment_tags() -> dict[str, str]:
    """What ran the numbers: ``version.<package>`` of the packages results depend on, the Python
    version and torch's CUDA build (tags of every run)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    import torch

    tags = {"version.python": platform.python_version(), "torch.cuda": str(torch.version.cuda)}
    for name in VERSIONED_PACKAGES:
        try:
            tags[f"version.{name}"] = version(name)
        except PackageNotFoundError:
            tags[f"version.{name}"] = "not installed"
    return tags


def flatten(d: dict, prefix: str = "") -> dict[str, str]:
    """{"train": {"lr": 2e-4}} -> {"train.lr": "0.0002"} for ``mlflow.log_params``."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = str(v)
    return out


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    def handler(signum, frame):
        raise Terminated(f"received signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def tracked_run(
    uri: str,
    experiment: str,
    run_name: str,
    params: dict | None = None,
    tags: dict[str, str] | None = None,
    job_key: str | None = None,
    rerun_finished: bool = False,
) -> Iterator[mlflow.ActiveRun]:
    """An MLflow run that ends FINISHED, FAILED (an exception) or KILLED (Ctrl-C, SIGTERM).

    With ``job_key`` (``jobs.job_key`` of what the job writes) the run carries the tag ``job.key``,
    and the newest run of that key is continued when it did not finish (FAILED, KILLED, or RUNNING
    with its process gone from this host; tag ``job.resumes`` counts the continuations) instead of
    opening a second run for the same job; with ``rerun_finished`` also a FINISHED one of the same
    params and code (``jobs.resumable_run``). Under a DAG invocation ($INVDN_DAG_RUN_ID) the run is a
    child of the invocation's run (tags ``mlflow.parentRunId``, ``dag.run_id``).

    Within it, SIGTERM raises :class:`Terminated`, so ``finally`` blocks (checkpointing) run
    before the process exits.
    """
    mlflow.set_tracking_uri(uri)
    exp_id = init_store(uri, [experiment])[experiment]
    commit = git_commit(Path(__file__).parent)
    # MLflow's own source-version column reads mlflow.source.git.commit; git_commit stays for older queries
    all_tags = {"git_commit": commit, "mlflow.source.git.commit": commit, "pid": str(os.getpid()),
                "host": socket.gethostname(), **environment_tags(), **parent_tags(), **(tags or {})}
    flat = flatten(params or {})
    previous = None
    if job_key is not None:
        all_tags[KEY_TAG] = job_key
        previous = resumable_run(MlflowClient(tracking_uri=uri), exp_id, job_key,
                                 all_tags if rerun_finished else None, flat)
    with _sigterm_raises():
        if previous is None:
            run = mlflow.start_run(experiment_id=exp_id, run_name=run_name, tags=all_tags)
        else:
            run = mlflow.start_run(run_id=previous.info.run_id)
            resumes = int(previous.data.tags.get(RESUMES_TAG, "0")) + 1
            flat, changed = params_to_log(previous, flat)
            mlflow.set_tags({**all_tags, **changed, RESUMES_TAG: str(resumes)})
        status = RunStatus.to_string(RunStatus.FAILED)
        try:
            if flat:
                mlflow.log_params(flat)
            yield run
            status = RunStatus.to_string(RunStatus.FINISHED)
        except (KeyboardInterrupt, Terminated):
            status = RunStatus.to_string(RunStatus.KILLED)
            raise
        finally:
            mlflow.end_run(status=status)


class MlflowLogger:
    """The training loop's view of tracking: metrics at a step, and files as artifacts, in the active
    run. In a continued run (``tracked_run`` with a job key) a metric step the run already holds is
    not logged again: the history keeps each step once (a resumed training repeats the steps after
    its last checkpoint, with the same values). Metrics without a step (a task's results) are always
    logged, so the run's latest values are the ones of its record."""

    def __init__(self) -> None:
        active = mlflow.active_run()
        self._logged = logged_steps(MlflowClient(), active) if active is not None else {}

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        fresh = {k: float(v) for k, v in metrics.items() if step is None or step > self._logged.get(k, -1)}
        if fresh:
            mlflow.log_metrics(fresh, step=step)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        mlflow.log_artifact(str(path), artifact_path)

    def set_tags(self, tags: dict[str, str]) -> None:
        mlflow.set_tags(tags)


def repair_runs(uri: str, dry_run: bool = False) -> list[dict]:
    """Mark FAILED the runs left RUNNING by a process that no longer exists (a hard kill, OOM, node loss).

    Every run started by ``tracked_run`` carries the tags ``pid`` and ``host``. A RUNNING run whose
    host is this machine and whose process is gone is ended as FAILED (end time now) and tagged
    ``repaired``; runs of other hosts, of live processes or without those tags are left alone and
    reported. Returns one dict per RUNNING run: run_id, name, host, pid, action.
    """
    client = MlflowClient(tracking_uri=uri)
    here = socket.gethostname()
    report = []
    experiments = [e.experiment_id for e in client.search_experiments()]
    for run in client.search_runs(experiments, filter_string="attributes.status = 'RUNNING'", max_results=50000):
        tags = run.data.tags
        host, pid = tags.get("host"), tags.get("pid")
        if host != here or not (pid or "").isdigit():
            action = "left alone: started on another host" if host and host != here else "left alone: no pid/host tags"
        elif process_alive(int(pid)):
            action = "left alone: its process is alive"
        else:
            action = "marked FAILED" if not dry_run else "would mark FAILED"
            if not dry_run:
                client.set_tag(run.info.run_id, "repaired", f"process {pid} on {host} was gone; marked FAILED "
                                                            "by invdn runs repair")
                client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.FAILED))
        report.append({"run_id": run.info.run_id, "name": tags.get("mlflow.runName", ""), "host": host, "pid": pid,
                       "action": action})
    return report
