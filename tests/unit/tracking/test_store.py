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
