"""A training logs InvDN as an MLflow model that `mlflow.pyfunc.load_model("runs:/<id>/model")` loads and
that denoises as the project's own inference does, and logs its data as MLflow datasets whose
digests are the manifest hashes."""
import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner
from mlflow.tracking import MlflowClient
from PIL import Image

from invdn.cli import main

from helpers import tiny_run_config


@pytest.fixture
def trained(tiny_data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(tiny_run_config(tiny_data, iterations=3, val_every=3)))
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    r = CliRunner().invoke(main, ["train", "--config", str(cfg), "--out-dir", "run", "--tracking-uri", uri,
                                  "--no-progress"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("invdn-repro").experiment_id])
    return {"uri": uri, "run": run, "model": tmp_path / "run" / "model.pt", "data": tiny_data}


def _own(model_file, images, mode, mc_samples, seed=0):
    """The project's denoising of (N, H, W, 3) images: run_mode with image n's generator (seed, str(n))."""
    from invdn.inference.modes import image_generator, prepare_for_inference, run_mode
    from invdn.models import load_model

    model = prepare_for_inference(load_model(model_file)[0])
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    with torch.no_grad():
        out = run_mode(model, x, [image_generator(seed, str(n)) for n in range(len(images))], mode, mc_samples)
    return out.clamp(0, 1).permute(0, 2, 3, 1).numpy()


def test_the_logged_model_loads_from_runs_uri_and_denoises_as_run_mode(trained):
    import mlflow

    mlflow.set_tracking_uri(trained["uri"])
    loaded = mlflow.pyfunc.load_model(f"runs:/{trained['run'].info.run_id}/model")
    sig = loaded.metadata.signature
    assert sig.inputs.to_dict() == sig.outputs.to_dict() == [
        {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": (-1, -1, -1, 3)}}]
    assert {p.name: p.default for p in sig.params.params} == {"mode": "mc", "mc_samples": 16, "seed": 0}
    noisy = sorted((trained["data"]["val"] / "Noisy").iterdir())
    images = np.stack([np.asarray(Image.open(p), dtype=np.float32) / 255 for p in noisy])  # (2, 32, 32, 3)

    default = loaded.predict(images)  # MC-16
    assert default.shape == images.shape and default.dtype == np.float32
    assert np.array_equal(default, _own(trained["model"], images, "mc", 16))
    single = loaded.predict(images, params={"mode": "single", "seed": 3})
    assert np.array_equal(single, _own(trained["model"], images, "single", 1, seed=3))
    assert not np.array_equal(single, default)
    with pytest.raises(Exception, match=r"does not match expected shape \(-1, -1, -1, 3\)"):  # the signature
        loaded.predict(images[0])


def test_the_logged_model_is_small_and_holds_its_requirements(trained):
    import mlflow

    mlflow.set_tracking_uri(trained["uri"])
    path = mlflow.artifacts.download_artifacts(f"runs:/{trained['run'].info.run_id}/model")
    from pathlib import Path

    files = {p.relative_to(path).as_posix(): p.stat().st_size for p in Path(path).rglob("*") if p.is_file()}
    assert "artifacts/model.pt" in files and "MLmodel" in files and "input_example.json" in files
    assert not any(f.endswith(".pkl") for f in files)  # models from code: nothing is unpickled on load
    # the weights file is the bulk; everything else (code, example, environment) stays small
    assert sum(files.values()) - files["artifacts/model.pt"] < 64 * 1024
    requirements = (Path(path) / "requirements.txt").read_text()
    assert "invdn-repro==" in requirements and "torch==" in requirements and "torchvision" not in requirements


def test_the_data_is_logged_as_datasets_with_the_manifest_hashes(trained):
    run = trained["run"]
    inputs = {i.tags[0].value: i.dataset for i in run.inputs.dataset_inputs}  # context -> dataset
    assert set(inputs) == {"training", "validation"}
    assert run.data.tags["train_manifest_sha256"].startswith(inputs["training"].digest)
    assert run.data.tags["val_manifest_sha256"].startswith(inputs["validation"].digest)
    assert len(inputs["training"].digest) == 36 and inputs["training"].name == "train"
    assert '"num_rows": 3' in inputs["training"].profile and '"num_rows": 2' in inputs["validation"].profile
