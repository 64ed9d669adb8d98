"""`invdn runs relocate`: after the results folder moves, the store's artifact links point at the new
place again (runs' artifacts and logged models download)."""
import shutil

import mlflow
import numpy as np
import pytest
from click.testing import CliRunner

from invdn.cli import main
from invdn.tracking import init_store, tracked_run
from invdn.tracking.jobs import job_key


class _Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


def test_a_moved_results_folder_still_downloads_its_artifacts_after_relocate(tmp_path, monkeypatch):
    old = tmp_path / "old"
    old.mkdir()
    monkeypatch.chdir(old)  # artifacts under old/results/mlartifacts, the store old/results/mlflow.db
    uri = f"sqlite:///{old}/results/mlflow.db"
    init_store(uri, ["invdn-repro"])
    (old / "note.txt").write_text("kept")
    with tracked_run(uri, "invdn-repro", "r") as run:
        mlflow.log_artifact(str(old / "note.txt"))
        mlflow.pyfunc.log_model(name="model", python_model=_Echo(), pip_requirements=[])
    run_id = run.info.run_id
    with pytest.raises(RuntimeError):  # a job that failed: its rerun after the move must continue it
        with tracked_run(uri, "invdn-repro", "train", job_key=job_key(old / "results" / "smoke" / "train")) as failed:
            raise RuntimeError("killed")

    new = tmp_path / "new"
    shutil.move(old, new)
    monkeypatch.chdir(new)
    moved = f"sqlite:///{new}/results/mlflow.db"
    mlflow.set_tracking_uri(moved)
    with pytest.raises(Exception):  # the links still name the old folder
        mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="note.txt", dst_path=str(tmp_path / "d0"))

    r = CliRunner().invoke(main, ["runs", "relocate", "--tracking-uri", moved, "--dry-run"])
    assert r.exit_code == 0 and "1 experiment(s) would be relocated" in r.output, r.output
    r = CliRunner().invoke(main, ["runs", "relocate", "--tracking-uri", moved])
    assert r.exit_code == 0 and "1 experiment(s) relocated" in r.output and "1 job key(s)" in r.output, r.output
    with tracked_run(moved, "invdn-repro", "train", job_key=job_key(new / "results" / "smoke" / "train")) as again:
        pass
    assert again.info.run_id == failed.info.run_id  # the job's key moved with the results: one run
    assert f"{(new / 'results' / 'mlartifacts' / 'invdn-repro').as_uri()}" in r.output

    got = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="note.txt", dst_path=str(tmp_path / "d1"))
    assert open(got).read() == "kept"
    x = np.ones((1, 2), dtype=np.float32)
    assert np.array_equal(mlflow.pyfunc.load_model(f"runs:/{run_id}/model").predict(x), x)
    r = CliRunner().invoke(main, ["runs", "relocate", "--tracking-uri", moved])
    assert "0 experiment(s) relocated" in r.output  # already in place: nothing to do


def test_relocate_refuses_a_server_or_a_missing_store_in_one_line(tmp_path):
    r = CliRunner().invoke(main, ["runs", "relocate", "--tracking-uri", "http://127.0.0.1:5000"])
    assert r.exit_code == 1 and "only a sqlite store" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(main, ["runs", "relocate", "--tracking-uri", f"sqlite:///{tmp_path}/none.db"])
    assert r.exit_code == 1 and "no such store" in r.output
