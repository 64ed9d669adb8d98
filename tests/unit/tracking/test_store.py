import os

import pytest
from mlflow.tracking import MlflowClient

from invdn.tracking import Terminated, init_store, tracked_run


def _runs(uri):
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("t")
    return client.search_runs([exp.experiment_id], order_by=["attributes.start_time ASC"])


@pytest.fixture
def uri(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    u = f"sqlite:///{tmp_path}/mlflow.db"
    init_store(u, ["t"])
    return u


def test_run_records_params_metrics_and_tags(uri):
    with tracked_run(uri, "t", "ok", {"train": {"lr": 0.1}}, {"stage": "x"}) as run:
        import mlflow

        mlflow.log_metrics({"psnr": 30.5}, step=3)
    (r,) = _runs(uri)
    assert r.info.run_id == run.info.run_id and r.info.status == "FINISHED"
    assert r.data.params == {"train.lr": "0.1"} and r.data.metrics == {"psnr": 30.5}
    assert r.data.tags["stage"] == "x" and "git_commit" in r.data.tags
    from importlib.metadata import version

    import torch
    assert r.data.tags["version.torch"] == torch.__version__ and r.data.tags["version.mlflow"] == version("mlflow")
    assert r.data.tags["version.invdn-repro"] == version("invdn-repro")


@pytest.mark.parametrize("exc,status", [(RuntimeError, "FAILED"), (KeyboardInterrupt, "KILLED"), (Terminated, "KILLED")])
def test_interrupted_runs_end_failed_or_killed(uri, exc, status):
    with pytest.raises(exc):
        with tracked_run(uri, "t", "bad"):
            raise exc("boom")
    (r,) = _runs(uri)
    assert r.info.status == status


def test_init_store_is_idempotent(uri):
    assert init_store(uri, ["t"]) == init_store(uri, ["t"])


# ------------------------------------------------------------------ one run per job (invdn.tracking.jobs)

def _attempt(uri, key, steps, fail=False, params=None):
    from invdn.tracking import MlflowLogger

    with tracked_run(uri, "t", "job", params or {"a": 1}, {"stage": "x"}, job_key=key) as run:
        log = MlflowLogger()
        for step in steps:
            log.log_metrics({"loss": 10.0 * step + (0.5 if fail else 0.0)}, step=step)
        if fail:
            raise RuntimeError("boom")
    return run.info.run_id


def test_a_failed_job_is_continued_in_its_run_with_each_step_once(uri):
    with pytest.raises(RuntimeError):
        first = _attempt(uri, "/out/a", range(0, 6), fail=True)
    (failed,) = _runs(uri)
    assert failed.info.status == "FAILED" and failed.data.tags["job.key"] == "/out/a"
    second = _attempt(uri, "/out/a", range(3, 9))  # resumed from a checkpoint of step 3
    (run,) = _runs(uri)
    assert run.info.run_id == failed.info.run_id == second and run.info.status == "FINISHED"
    assert run.data.tags["job.resumes"] == "1"
    history = MlflowClient(tracking_uri=uri).get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in sorted(history, key=lambda m: m.step)] == list(range(9))
    # the steps the first attempt logged keep its values; the later ones are the second's
    assert {m.step: m.value for m in history}[5] == 50.5 and {m.step: m.value for m in history}[8] == 80.0


def test_a_finished_job_run_again_opens_a_new_run_and_other_keys_are_separate(uri):
    a = _attempt(uri, "/out/a", [0])
    b = _attempt(uri, "/out/b", [0])
    again = _attempt(uri, "/out/a", [0])
    assert len({a, b, again}) == 3 and [r.info.status for r in _runs(uri)] == ["FINISHED"] * 3


def _running_run(uri, key, pid):
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("t").experiment_id
    import socket

    return client.create_run(exp, tags={"job.key": key, "pid": str(pid), "host": socket.gethostname()}).info.run_id


def test_a_running_run_is_continued_only_when_its_process_is_gone(uri):
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = _running_run(uri, "/out/dead", dead.pid)
    assert _attempt(uri, "/out/dead", [0]) == orphan
    live = _running_run(uri, "/out/live", os.getppid())  # a process that exists
    assert _attempt(uri, "/out/live", [0]) != live
    statuses = {r.info.run_id: r.info.status for r in _runs(uri)}
    assert statuses[orphan] == "FINISHED" and statuses[live] == "RUNNING"


def test_a_changed_param_of_a_continued_run_is_kept_and_noted(uri):
    with pytest.raises(RuntimeError):
        _attempt(uri, "/out/a", [0], fail=True, params={"threads": 1})
    _attempt(uri, "/out/a", [1], params={"threads": 2, "extra": 3})
    (run,) = _runs(uri)
    assert run.data.params == {"threads": "1", "extra": "3"}
    assert run.data.tags["job.changed_param.threads"] == "1 -> 2"


def test_runs_of_a_dag_invocation_are_children_of_its_run(uri, monkeypatch):
    monkeypatch.setenv("INVDN_DAG_RUN_ID", "abc123")
    _attempt(uri, "/out/a", [0])
    (run,) = _runs(uri)
    assert run.data.tags["mlflow.parentRunId"] == "abc123" and run.data.tags["dag.run_id"] == "abc123"


def test_an_explicit_tracking_uri_beats_the_environment(monkeypatch):
    from invdn.tracking import DEFAULT_TRACKING_URI, tracking_uri

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///env.db")
    assert tracking_uri("sqlite:///given.db") == "sqlite:///given.db"
    assert tracking_uri(None) == "sqlite:///env.db"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert tracking_uri(None) == DEFAULT_TRACKING_URI


def test_a_task_run_again_with_the_same_settings_continues_its_finished_run(uri):
    """record_run's jobs: a workflow killed after a job's run ended but before Snakemake recorded the
    job reruns it; the job keeps one run, whose step-less metrics end with the new values."""
    from invdn.tracking import MlflowLogger

    def evaluate(value, params):
        with tracked_run(uri, "t", "eval", params, {"code_version": "c1"}, job_key="/out/m.json",
                         rerun_finished=True) as run:
            MlflowLogger().log_metrics({"psnr": value})
        return run.info.run_id

    first = evaluate(30.0, {"mode": "mc"})
    assert evaluate(30.5, {"mode": "mc"}) == first
    (run,) = _runs(uri)
    assert run.info.status == "FINISHED" and run.data.metrics["psnr"] == 30.5
    assert evaluate(31.0, {"mode": "single"}) != first  # other settings: another run
