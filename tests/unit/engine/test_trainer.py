import pytest
import torch

from invdn.engine import checkpoint
from invdn.config import run_config
from invdn.losses import Objective
from invdn.models import load_model
from invdn.engine.trainer import NonFiniteLossError, train

from helpers import RecordingLogger, nan_at_call, tiny_run_config


def _weights(path):
    return checkpoint.load(path)["model"]


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tiny_data, tmp_path):
    full = train(run_config(tiny_run_config(tiny_data, iterations=4)), tmp_path / "full", progress=False)
    train(run_config(tiny_run_config(tiny_data, iterations=2)), tmp_path / "split", progress=False)
    resumed = train(run_config(tiny_run_config(tiny_data, iterations=4)), tmp_path / "split", progress=False)
    assert full.step == resumed.step == 4
    a, b = _weights(full.model_path), _weights(resumed.model_path)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # and the run really moved: the weights differ from initialisation
    fresh = train(run_config(tiny_run_config(tiny_data, iterations=1)), tmp_path / "one", progress=False)
    assert any(not torch.equal(a[k], _weights(fresh.model_path)[k]) for k in a)


def test_checkpoints_are_kept_per_configuration(tiny_data, tmp_path):
    train(run_config(tiny_run_config(tiny_data, iterations=2)), tmp_path, progress=False)
    train(run_config(tiny_run_config(tiny_data, iterations=2, lr=1e-3)), tmp_path, progress=False)
    assert len(list((tmp_path / "checkpoints").iterdir())) == 2


def test_model_file_loads_back(tiny_data, tmp_path):
    result = train(run_config(tiny_run_config(tiny_data, iterations=2, val_every=1)), tmp_path, progress=False)
    model, state = load_model(result.model_path)
    assert state["step"] == 2 and model.num_parameters() == state["num_parameters"]
    assert set(result.val) == {"val_psnr", "val_ssim"}


def test_validation_history_survives_a_resume_and_is_logged_again(tiny_data, tmp_path):
    cfg4 = run_config(tiny_run_config(tiny_data, iterations=4, val_every=1, val_images=1))
    full = train(cfg4, tmp_path / "full", progress=False)
    history = checkpoint.load(full.model_path)["val_history"]
    assert [h["step"] for h in history] == [1, 2, 3, 4] and history[-1]["val_psnr"] == full.val["val_psnr"]
    train(run_config(tiny_run_config(tiny_data, iterations=2, val_every=1, val_images=1)), tmp_path / "split",
          progress=False)
    logger = RecordingLogger()
    resumed = train(cfg4, tmp_path / "split", logger=logger, progress=False)
    assert checkpoint.load(resumed.model_path)["val_history"] == history
    logged = [(step, m["val_psnr"]) for step, m in logger.metrics if "val_psnr" in m]
    assert logged == [(h["step"], h["val_psnr"]) for h in history]  # steps 1-2 again, then 3-4
    # resumed at its last step: nothing to train, and the final validation is still the model's
    again = train(cfg4, tmp_path / "split", progress=False)
    assert again.val == full.val


def test_a_new_code_version_trains_again_instead_of_resuming(tiny_data, tmp_path):
    cfg = run_config(tiny_run_config(tiny_data, iterations=2))
    train(cfg, tmp_path, progress=False, code_version="aaa")
    logger = RecordingLogger()
    train(cfg, tmp_path, logger=logger, progress=False, code_version="bbb")
    assert [step for step, m in logger.metrics if "loss" in m] == [1, 2]  # trained from step 0
    assert sorted(p.name.split("-")[1] for p in (tmp_path / "checkpoints").iterdir()) == ["codeaaa", "codebbb"]
    logger = RecordingLogger()
    train(cfg, tmp_path, logger=logger, progress=False, code_version="bbb")
    assert not [m for _, m in logger.metrics if "loss" in m]  # same code: resumed at the end
    assert checkpoint.load(tmp_path / "model.pt")["code_version"] == "bbb"


def test_nonfinite_loss_stops_with_step_files_and_checkpoint(tiny_data, tmp_path, monkeypatch):
    nan_at_call(monkeypatch, 3)
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at step 3 .*batch from: .*Noisy/0_\d.PNG.*before_nonfinite_step3.pt") as err:
        train(run_config(tiny_run_config(tiny_data, iterations=4)), tmp_path, progress=False)
    saved = str(err.value).rsplit("weights before this step: ", 1)[1]
    assert checkpoint.load(saved)["step"] == 2


def test_nonfinite_loss_rolls_back_with_a_smaller_lr_when_allowed(tiny_data, tmp_path, monkeypatch):
    calls = nan_at_call(monkeypatch, 4)  # the 4th loss evaluated (step 4) is NaN, once
    logger = RecordingLogger()
    raw = tiny_run_config(tiny_data, iterations=5, nan_rollbacks=1, nan_lr_factor=0.25, lr=1e-3, lr_milestones=[100])
    result = train(run_config(raw), tmp_path, progress=False, logger=logger)
    assert result.step == 5 and calls["n"] == 4 + 3  # steps 1-3, the NaN, then steps 3-5 again from step 2
    assert logger.tags["nan_rollbacks"] == "1" and f"rolled back to step 2, lr {1e-3 * 0.25:g}" in logger.tags["nan_rollback_1"]
    assert "loss is nan at step 4" in logger.tags["nan_rollback_1"]
    lrs = [m["lr"] for step, m in logger.metrics if "lr" in m and step is not None and step >= 3]
    assert lrs[-3:] == [pytest.approx(1e-3 * 0.25)] * 3
    final = checkpoint.load(sorted((tmp_path / "checkpoints").glob("*/step*.pt"))[-1])
    assert final["nan_rollbacks"] == 1

    # with no rollback left the same NaN stops the run; switching rollback on later resumes the same run
    calls["n"] = 0
    with pytest.raises(NonFiniteLossError, match="loss is nan at step 4"):
        train(run_config(tiny_run_config(tiny_data, iterations=5, lr_milestones=[100])), tmp_path / "b", progress=False)
    assert calls["n"] == 4
    resumed = train(run_config(tiny_run_config(tiny_data, iterations=5, lr_milestones=[100], nan_rollbacks=2)),
                    tmp_path / "b", progress=False)
    assert resumed.step == 5 and calls["n"] == 4 + 3  # resumed from the step-2 checkpoint of the stopped run


def test_rollbacks_accumulate_and_a_nan_before_the_first_checkpoint_has_one(tiny_data, tmp_path, monkeypatch):
    calls = {"n": 0}
    original = Objective.__call__

    def nan_at_steps_1_and_3(self, *args, **kwargs):  # the 1st and the 3rd loss evaluated
        out = original(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] in (1, 3):
            out["total"] = out["total"] * float("nan")
        return out

    monkeypatch.setattr(Objective, "__call__", nan_at_steps_1_and_3)
    logger = RecordingLogger()
    raw = tiny_run_config(tiny_data, iterations=3, checkpoint_every=10, nan_rollbacks=2, nan_lr_factor=0.5, lr=1e-3,
                          lr_milestones=[100])
    result = train(run_config(raw), tmp_path, progress=False, logger=logger)
    assert result.step == 3
    # the first NaN (step 1) goes back to the step-0 checkpoint; the second too, and the lr halves again
    assert "rolled back to step 0, lr 0.0005" in logger.tags["nan_rollback_1"]
    assert "rolled back to step 0, lr 0.00025" in logger.tags["nan_rollback_2"]
    assert checkpoint.load(sorted((tmp_path / "checkpoints").glob("*/step*.pt"))[-1])["lr_scale"] == 0.25


def test_memory_saving_training_follows_the_same_trajectory(tiny_data, tmp_path):
    plain = train(run_config(tiny_run_config(tiny_data, iterations=3)), tmp_path / "plain", progress=False)
    saving = train(run_config(tiny_run_config(tiny_data, iterations=3, memory_saving=True)), tmp_path / "saving",
                   progress=False)
    a, b = _weights(plain.model_path), _weights(saving.model_path)
    for k in a:  # float32: round-off of the rebuilt activations only
        torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-5, msg=k)
    assert plain.last_losses["total"] == pytest.approx(saving.last_losses["total"], rel=1e-4)


def test_keeps_the_newest_checkpoints_and_falls_back_past_an_unreadable_one(tiny_data, tmp_path):
    cfg = run_config(tiny_run_config(tiny_data, iterations=5, checkpoint_every=1, keep_checkpoints=2))
    full = train(cfg, tmp_path / "full", progress=False)
    (ckpt_dir,) = (tmp_path / "full" / "checkpoints").iterdir()
    assert [p.name for p in sorted(ckpt_dir.iterdir())] == ["step00000004.pt", "step00000005.pt"]

    half = run_config(tiny_run_config(tiny_data, iterations=3, checkpoint_every=1, keep_checkpoints=2))
    train(half, tmp_path / "split", progress=False)
    (ckpt_dir,) = (tmp_path / "split" / "checkpoints").iterdir()
    newest = ckpt_dir / "step00000003.pt"
    newest.write_bytes(newest.read_bytes()[:1000])  # truncated, as by a crash during a copy
    resumed = train(cfg, tmp_path / "split", progress=False)  # resumes from step 2, redoes step 3
    a, b = _weights(full.model_path), _weights(resumed.model_path)
    assert all(torch.equal(a[k], b[k]) for k in a)

    for p in ckpt_dir.iterdir():
        p.write_bytes(b"garbage")
    with pytest.raises(checkpoint.CheckpointError, match="no usable checkpoint"):
        train(cfg, tmp_path / "split", progress=False)


def test_bf16_training_runs_on_cpu_and_fp16_is_refused_there(tiny_data, tmp_path):
    from invdn.config import ConfigError

    result = train(run_config(tiny_run_config(tiny_data, iterations=2, amp="bf16")), tmp_path / "bf16", progress=False)
    assert result.step == 2 and all(torch.isfinite(torch.tensor(v)) for v in result.last_losses.values())
    with pytest.raises(ConfigError, match="train.amp fp16 needs a CUDA device"):
        train(run_config(tiny_run_config(tiny_data, iterations=2, amp="fp16")), tmp_path / "fp16", progress=False)
