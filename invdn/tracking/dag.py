"""The MLflow run of one DAG invocation: the parent of every job's run, holding the DAG's config.

``start`` (called by the Snakefile's ``onstart`` handler, ``workflow/rules/mlflow.smk``, after
``invdn.pipeline.recovery.on_dag_start`` has marked FAILED the runs that dead processes left RUNNING:
an earlier invocation killed with its jobs) opens a run ``dag/<name>`` (tag ``stage`` = ``dag``) with the config as params and
as the artifact ``dag_config.yaml``, and exports its id in ``$INVDN_DAG_RUN_ID``, which the jobs
inherit: ``tracked_run`` tags each job's run ``mlflow.parentRunId`` (the UI nests it under the DAG
run) and ``dag.run_id``. ``end`` (``onsuccess`` / ``onerror``) ends it FINISHED or FAILED. A DAG
invocation killed outright leaves its run RUNNING with a dead pid: the next invocation repairs it.
Nothing here changes a rule's params, so no job reruns because of it.
"""
from __future__ import annotations

import os
import socket

from mlflow.entities import Param, RunStatus
from mlflow.tracking import MlflowClient

from invdn.tracking.jobs import PARENT_ENV
from invdn.tracking.store import environment_tags, flatten, git_commit, init_store

PARAMS_PER_CALL = 100  # MLflow's limit of params in one log_batch


def start(uri: str, experiment: str, config: dict, name: str) -> str:
    """Open the DAG invocation's run, export its id in ``$INVDN_DAG_RUN_ID`` and return it. Prints
    one line (the handler's output)."""
    from pathlib import Path

    exp_id = init_store(uri, [experiment])[experiment]
    client = MlflowClient(tracking_uri=uri)
    commit = git_commit(Path(__file__).parent)
    tags = {"mlflow.runName": f"dag/{name}", "stage": "dag", "dag.preset": str(config.get("preset", "")),
            "pid": str(os.getpid()), "host": socket.gethostname(), "git_commit": commit,
            "mlflow.source.git.commit": commit, **environment_tags()}
    run_id = client.create_run(exp_id, tags=tags, run_name=f"dag/{name}").info.run_id
    params = [Param(k, v[:6000]) for k, v in flatten(config).items()]
    for i in range(0, len(params), PARAMS_PER_CALL):
        client.log_batch(run_id, params=params[i:i + PARAMS_PER_CALL])
    client.log_dict(run_id, config, "dag_config.yaml")
    os.environ[PARENT_ENV] = run_id
    print(f"invdn-repro: DAG run {run_id} (experiment {experiment!r}); the jobs' runs are its children")
    return run_id


def end(uri: str, succeeded: bool) -> None:
    """End the DAG invocation's run ($INVDN_DAG_RUN_ID) FINISHED or FAILED; nothing when there is none."""
    run_id = os.environ.pop(PARENT_ENV, None)
    if run_id:
        status = RunStatus.FINISHED if succeeded else RunStatus.FAILED
        MlflowClient(tracking_uri=uri).set_terminated(run_id, RunStatus.to_string(status))
