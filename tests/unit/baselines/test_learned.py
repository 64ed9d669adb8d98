"""Learned baselines trained by InvDN's loop: config checks, resume, model files, CLI train + evaluate."""
import json

import pytest
import torch
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

from baselines.learned import LearnedBaseline, network_run_config, network_task
from invdn.engine import checkpoint
from invdn.cli import main
from invdn.config import ConfigError, run_config
from invdn.models import load_model
from invdn.engine.trainer import train

from helpers import tiny_run_config


def net_config(data, network=None, **train_overrides):
    raw = tiny_run_config(data, **train_overrides)
    raw["model"] = network or {"network": "dncnn", "depth": 3, "features": 8}
    return raw


def test_config_names_the_network_problem(tiny_data):
    with pytest.raises(ConfigError, match="unknown baseline network 'dncn'"):
        network_run_config(net_config(tiny_data, {"network": "dncn"}), "tiny.yaml")
    with pytest.raises(ConfigError, match="tiny.yaml: model: .*widht"):
        network_run_config(net_config(tiny_data, {"network": "dncnn", "widht": 3}), "tiny.yaml")
    # the gain augmentation rebuilds the noise from the clean image: refused for a noisy-only network
    with pytest.raises(ConfigError, match="noise_gain_max is 2.0 but blind_spot learns from noisy images only"):
        network_run_config(net_config(tiny_data, {"network": "blind_spot", "features": 4, "blocks": 1},
                                      noise_gain_max=2.0))
    with pytest.raises(ConfigError, match="missing section"):
        network_run_config({"model": {"network": "dncnn"}})


def test_network_training_resumes_to_the_same_weights(tiny_data, tmp_path):
    cfg = lambda n: network_run_config(net_config(tiny_data, iterations=n))  # noqa: E731
    full = train(cfg(4), tmp_path / "full", progress=False, task=network_task)
    train(cfg(2), tmp_path / "split", progress=False, task=network_task)
    resumed = train(cfg(4), tmp_path / "split", progress=False, task=network_task)
    a, b = checkpoint.load(full.model_path)["model"], checkpoint.load(resumed.model_path)["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert set(full.last_losses) == {"total"} and full.last_losses["total"] > 0


def test_noisy_only_training_never_reads_the_clean_patch(tiny_data, tmp_path, monkeypatch):
    """The blind-spot loss sees noisy patches only: replacing every clean patch changes nothing."""
    from invdn.data import datasets

    raw = net_config(tiny_data, {"network": "blind_spot", "features": 4, "blocks": 1}, iterations=2)
    a = train(network_run_config(raw), tmp_path / "a", progress=False, task=network_task)
    original = datasets.TrainPatches.__getitem__
    monkeypatch.setattr(datasets.TrainPatches, "__getitem__",
                        lambda self, k: {**original(self, k), "clean": torch.rand(3, 16, 16)})
    b = train(network_run_config(raw), tmp_path / "b", progress=False, task=network_task)
    wa, wb = checkpoint.load(a.model_path)["model"], checkpoint.load(b.model_path)["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_model_files_are_not_mixed_up(tiny_data, tmp_path):
    net = train(network_run_config(net_config(tiny_data, iterations=1)), tmp_path / "net", progress=False,
                task=network_task)
    with pytest.raises(checkpoint.CheckpointError, match="holds a 'dncnn' baseline network, not InvDN"):
        load_model(net.model_path)
    invdn = train(run_config(tiny_run_config(tiny_data, iterations=1)), tmp_path / "invdn", progress=False)
    with pytest.raises(checkpoint.CheckpointError, match="an InvDN model file, not a baseline network"):
        LearnedBaseline(invdn.model_path)
    baseline = LearnedBaseline(net.model_path)
    x = torch.rand(1, 3, 21, 18)
    assert baseline.denoise(x).shape == x.shape and torch.equal(baseline.denoise(x), baseline.denoise(x))
    assert baseline.num_parameters == sum(p.numel() for p in baseline.network.parameters())


def test_cli_trains_and_scores_a_network_like_invdn(tiny_data, tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    raw = net_config(tiny_data, iterations=2)
    run = lambda *a: CliRunner().invoke(main, [str(x) for x in a], catch_exceptions=False)  # noqa: E731
    r = run("train", "--config-json", json.dumps(raw), "--out-dir", tmp_path / "dncnn", "--tracking-uri", uri,
            "--no-progress")
    assert r.exit_code == 0, r.output
    out = tmp_path / "dncnn.json"
    r = run("evaluate-baseline", "--method", "dncnn", "--checkpoint", tmp_path / "dncnn" / "model.pt",
            "--data", tiny_data["val"], "--out", out, "--tracking-uri", uri, "--no-progress")
    assert r.exit_code == 0, r.output
    rec = json.loads(out.read_text())
    assert rec["method"] == "dncnn" and rec["label"] == "DnCNN" and rec["num_parameters"] > 0
    runs = MlflowClient(tracking_uri=uri).search_runs(
        [MlflowClient(tracking_uri=uri).get_experiment_by_name("invdn-repro").experiment_id])
    assert sorted(r.info.status for r in runs) == ["FINISHED", "FINISHED"]
    assert {r.data.tags["stage"] for r in runs} == {"train", "evaluate"}
    # every run names its data by content: the val hash of training equals the evaluation's data hash
    tags = {r.data.tags["stage"]: r.data.tags for r in runs}
    assert tags["train"]["val_manifest_sha256"] == tags["evaluate"]["data_manifest_sha256"]
    assert len(tags["train"]["train_manifest_sha256"]) == 64 and "version.torch" in tags["evaluate"]
    # the wrong method name for a checkpoint, and an unknown classical one, are usage errors
    r = CliRunner().invoke(main, ["evaluate-baseline", "--method", "unet", "--checkpoint",
                                  str(tmp_path / "dncnn" / "model.pt"), "--data", str(tiny_data["val"]),
                                  "--out", str(out), "--tracking-uri", uri])
    assert r.exit_code == 2 and "holds 'dncnn', not 'unet'" in r.output
    r = CliRunner().invoke(main, ["evaluate-baseline", "--method", "dncnn", "--data", str(tiny_data["val"]),
                                  "--out", str(out), "--tracking-uri", uri])
    assert r.exit_code == 2 and "'dncnn' is a trained network: give its model file" in r.output
