"""`invdn runs register`: the best main-seed model (highest mean PSNR of its evaluation) in the Model
Registry under the preset's alias; run again, it reuses the version; a better model moves the alias."""
import json

import mlflow
import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

from invdn.cli import main
from invdn.tracking import init_store


class _Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    exp = init_store(uri, ["invdn-repro"])["invdn-repro"]
    mlflow.set_tracking_uri(uri)
    return {"uri": uri, "exp": exp, "tmp": tmp_path}


def _trained_and_evaluated(store, seed, psnr, with_train=True):
    """A training run that logged a (stand-in) model, and an evaluation run of it with its metrics file."""
    with mlflow.start_run(experiment_id=store["exp"], run_name=f"train/seed{seed}") as train:
        mlflow.pyfunc.log_model(name="model", python_model=_Echo(), pip_requirements=[])
    tags = {"stage": "evaluate", **({"train_run_id": train.info.run_id} if with_train else {})}
    with mlflow.start_run(experiment_id=store["exp"], run_name=f"evaluate/seed{seed}", tags=tags) as ev:
        pass
    path = store["tmp"] / f"seed{seed}.json"
    path.write_text(json.dumps({"mean": {"psnr": psnr}, "mlflow": {"run_id": ev.info.run_id}}))
    return path, train.info.run_id


def _register(store, *files, alias="smoke"):
    args = ["runs", "register", "--tracking-uri", store["uri"], "--alias", alias, "--out", str(store["tmp"] / "r.json"),
            "--tag", "snakemake_rule=register_model"]
    for f in files:
        args += ["--metrics", str(f)]
    return CliRunner().invoke(main, args)


def test_the_best_seed_is_registered_under_the_alias_and_a_rerun_reuses_its_version(store):
    (a, _), (b, best) = _trained_and_evaluated(store, 0, 30.0), _trained_and_evaluated(store, 1, 31.5)
    r = _register(store, a, b)
    assert r.exit_code == 0, r.output
    client = MlflowClient(tracking_uri=store["uri"], registry_uri=store["uri"])
    version = client.get_model_version_by_alias("invdn", "smoke")
    assert version.run_id == best and str(version.version) == "1" and version.tags["psnr"] == "31.5000"
    assert version.tags["snakemake_rule"] == "register_model"
    record = json.loads((store["tmp"] / "r.json").read_text())
    assert record["uri"] == "models:/invdn@smoke" and record["source"] == f"runs:/{best}/model"
    assert [c["psnr"] for c in record["candidates"]] == [30.0, 31.5]

    assert _register(store, a, b).exit_code == 0  # the same models: the same version, no second one
    assert len(client.search_model_versions("name = 'invdn'")) == 1
    c, better = _trained_and_evaluated(store, 2, 32.0)
    assert _register(store, a, b, c, alias="smoke").exit_code == 0
    assert client.get_model_version_by_alias("invdn", "smoke").run_id == better
    assert _register(store, a, alias="paper").exit_code == 0  # another preset: its own alias
    assert client.get_model_version_by_alias("invdn", "paper").run_id != better


def test_an_evaluation_of_foreign_weights_is_refused_in_one_line(store):
    path, _ = _trained_and_evaluated(store, 0, 30.0, with_train=False)
    r = _register(store, path)
    assert r.exit_code == 1 and "names no training run (tag train_run_id)" in r.output
    assert "Traceback" not in r.output and str(path) in r.output
    bad = store["tmp"] / "bad.json"
    bad.write_text("{}")
    r = _register(store, bad)
    assert r.exit_code == 1 and "not an `invdn evaluate` metrics file" in r.output
