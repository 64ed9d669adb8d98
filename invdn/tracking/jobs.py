"""One MLflow run per job: a job (a training, an evaluation, a table) is named by a deterministic key
(MLflow tag ``job.key``: for a training its checkpoint folder, for other tasks their output file), and
a job that starts again after it did not finish continues its earlier run instead of opening another.

A run is resumed when it is the newest run of the key in the experiment and it did not finish:
FAILED or KILLED, or RUNNING while the process that ran it (tags ``pid``, ``host``) is gone from this
host (kill -9, OOM). A FINISHED newest run, or a RUNNING one of a live process or another host, is
left alone and the job opens a new run. ``tracked_run`` (``invdn.tracking.store``) calls this module.
"""
from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path

from mlflow.entities import Run
from mlflow.tracking import MlflowClient

KEY_TAG = "job.key"
RESUMES_TAG = "job.resumes"
PARENT_ENV = "INVDN_DAG_RUN_ID"  # the DAG invocation's parent run (invdn.tracking.dag), inherited by its jobs


def job_key(path: str | Path) -> str:
    """The key of the job that writes ``path`` (a file or a folder): its absolute path. A path with a
    single quote (which MLflow's search filter cannot hold) is keyed by its sha256 instead."""
    key = str(Path(path).resolve())
    return key if "'" not in key else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _dead_here(run: Run) -> bool:
    tags = run.data.tags
    pid = tags.get("pid", "")
    return tags.get("host") == socket.gethostname() and pid.isdigit() and not process_alive(int(pid))


def newest_run(client: MlflowClient, experiment_id: str, key: str) -> Run | None:
    """The newest run of ``key`` in the experiment, or None."""
    found = client.search_runs([experiment_id], filter_string=f"tags.`{KEY_TAG}` = '{key}'",
                               order_by=["attributes.start_time DESC"], max_results=1)
    return found[0] if found else None


SAME_JOB_TAGS = ("code_version", "git_commit")  # a finished run is the same job only with the same code


def resumable_run(client: MlflowClient, experiment_id: str, key: str, same: dict[str, str] | None = None,
                  params: dict[str, str] | None = None) -> Run | None:
    """The run a job of ``key`` continues: the newest run of the key when it did not finish (FAILED,
    KILLED, or RUNNING with its process gone from this host); else None (the job opens a new run).

    With ``same`` (the new run's tags) and ``params``, a FINISHED newest run is continued too when it
    has exactly these params and the same ``code_version`` and ``git_commit`` tags: the same job
    with the same settings done again (a workflow killed after the job's run ended but before
    Snakemake recorded the job), so the job still has one run; its metrics then hold the new values."""
    run = newest_run(client, experiment_id, key)
    if run is None:
        return None
    status = run.info.status
    if status in ("FAILED", "KILLED") or (status == "RUNNING" and _dead_here(run)):
        return run
    if status == "FINISHED" and same is not None and run.data.params == (params or {}) \
            and all(run.data.tags.get(k) == same.get(k) for k in SAME_JOB_TAGS):
        return run
    return None


def params_to_log(run: Run | None, params: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(params a run may still take, tags noting the changed ones): MLflow refuses to change a
    logged param, so a resumed run keeps its first values and records a changed one as the tag
    ``job.changed_param.<name>`` = ``<old> -> <new>`` (e.g. more threads the second time)."""
    if run is None:
        return params, {}
    old = run.data.params
    new = {k: v for k, v in params.items() if k not in old}
    changed = {f"job.changed_param.{k}": f"{old[k]} -> {v}"[:5000] for k, v in params.items()
               if k in old and old[k] != v}
    return new, changed


def parent_tags() -> dict[str, str]:
    """The tags that put a job's run under its DAG invocation's parent run ($INVDN_DAG_RUN_ID)."""
    parent = os.environ.get(PARENT_ENV)
    return {"mlflow.parentRunId": parent, "dag.run_id": parent} if parent else {}


def logged_steps(client: MlflowClient, run: Run) -> dict[str, int]:
    """{metric: its highest logged step} of a run (empty for a new run): what a resumed job must not
    log again, so the run's metric history has each step once."""
    return {key: max((m.step for m in client.get_metric_history(run.info.run_id, key)), default=-1)
            for key in run.data.metrics}
