"""The training checkpoints of a run: where they live, what they hold, rotation, resuming from them.

A run's checkpoints live in ``<out_dir>/checkpoints/<trajectory hash>[-code<code version>]/``, so a
run with a different config (or, in the workflow, different training code) never resumes from
another's. ``step<8 digits>.pt`` are written every ``checkpoint_every`` steps, the newest
``keep_checkpoints`` kept; resuming takes the newest one that loads and reports (log, MLflow tag
``skipped_checkpoints``) any newer one that did not. The file format is ``invdn.engine.checkpoint``'s.
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch

from invdn.config import RunConfig
from invdn.engine import checkpoint
from invdn.engine.distributed import Group
from invdn.engine.loop import Hook, Loop, TrainState, Training
from invdn.tracking.logger import Logger

log = logging.getLogger(__name__)


def checkpoint_dir(out_dir: Path, cfg: RunConfig, code_version: str | None) -> Path:
    """``<out_dir>/checkpoints/<first 12 hex digits of the trajectory hash>[-code<code_version>]``."""
    return out_dir / "checkpoints" / (cfg.trajectory_hash()[:12] + (f"-code{code_version}" if code_version else ""))


class Checkpoints:
    """The checkpoints of one run of ``training`` in ``directory``: rank 0 writes them, every rank reads.

    A checkpoint holds (in this order) format, arch, model, optimizer, scheduler, scaler, torch_rng,
    step, nan_rollbacks, lr_scale, val_history, config and trajectory_hash: enough to continue the
    same trajectory (``restore``).
    """

    def __init__(self, directory: Path, cfg: RunConfig, training: Training, group: Group, logger: Logger):
        self.directory, self.cfg, self.training, self.group, self.logger = directory, cfg, training, group, logger
        self.trajectory_hash = cfg.trajectory_hash()

    def rotating(self) -> list[Path]:
        """The rotating checkpoints of the run, newest first (``step<8 digits>.pt``)."""
        return sorted(self.directory.glob("step[0-9]*.pt"), reverse=True)

    def save(self, state: TrainState, path: Path | None = None) -> None:
        """On rank 0, write a checkpoint of ``state`` and the training now to ``path``; by default the
        rotating ``step<N>.pt``, after which only the newest ``keep_checkpoints`` are kept."""
        if not self.group.main:
            return
        rotating = path is None
        path = path or self.directory / f"step{state.step:08d}.pt"
        tr = self.training
        checkpoint.save(path, {
            "format": checkpoint.TRAINING_FORMAT,
            "arch": tr.task.arch,
            "model": tr.model.state_dict(),
            "optimizer": tr.optimizer.state_dict(),
            "scheduler": tr.scheduler.state_dict(),
            "scaler": tr.amp.scaler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "step": state.step,
            "nan_rollbacks": state.nan_rollbacks,
            "lr_scale": state.lr_scale,
            "val_history": state.val_history,
            "config": self.cfg.to_dict(),
            "trajectory_hash": self.trajectory_hash,
        })
        if rotating:  # keep the newest keep_checkpoints: an unreadable newest one falls back to the next
            for old in self.rotating()[self.cfg.train.keep_checkpoints:]:
                old.unlink(missing_ok=True)

    def newest_loadable(self) -> tuple[dict | None, Path | None]:
        """The newest checkpoint that loads and its path, or (None, None) when there is none, with a
        warning (logged to MLflow as the tag ``skipped_checkpoints``) for each newer one that does not
        (truncated, other version).

        Raises:
            CheckpointError: a checkpoint written by a different configuration, or none usable
                among several (the message lists why each failed).
        """
        candidates = self.rotating() + [p for p in (self.directory / "last.pt",) if p.exists()]  # last.pt: older runs
        skipped = []
        for path in candidates:
            try:
                state = checkpoint.load(path, checkpoint.TRAINING_FORMAT, map_location=self.group.device)
            except checkpoint.CheckpointError as e:
                log.warning("skipping unusable checkpoint: %s", e)
                skipped.append(f"{path.name}: {e}")
                continue
            if state.get("trajectory_hash") != self.trajectory_hash:
                raise checkpoint.CheckpointError(f"{path}: written by a different configuration")
            if skipped:
                self.logger.set_tags({"skipped_checkpoints": "; ".join(skipped)[:5000]})
            return state, path
        if skipped:
            raise checkpoint.CheckpointError(
                f"{self.directory}: no usable checkpoint ({'; '.join(skipped)}); delete the folder to start over"
            )
        return None, None

    def restore(self, saved: dict) -> int:
        """Load weights, optimizer, lr schedule, gradient scaler and the torch RNG from a checkpoint;
        its step."""
        tr = self.training
        tr.model.load_state_dict(saved["model"])
        tr.optimizer.load_state_dict(saved["optimizer"])
        tr.scheduler.load_state_dict(saved["scheduler"])
        tr.amp.scaler.load_state_dict(saved["scaler"])
        torch.set_rng_state(saved["torch_rng"])
        return int(saved["step"])

    def resume(self) -> TrainState:
        """The state of the newest usable checkpoint, restored into the training; a fresh state when
        there is none. The validation history is logged again, so this run holds the whole curve.

        Raises:
            CheckpointError: as ``newest_loadable``.
        """
        saved, path = self.newest_loadable()
        if saved is None:
            return TrainState()
        step = self.restore(saved)
        state = TrainState(step=step, nan_rollbacks=int(saved.get("nan_rollbacks", 0)),
                           lr_scale=float(saved.get("lr_scale", 1.0)),
                           val_history=[h for h in saved.get("val_history", []) if h["step"] <= step])
        for h in state.val_history:  # this run holds the whole curve, not only the steps after the resume
            self.logger.log_metrics({"val_psnr": h["val_psnr"], "val_ssim": h["val_ssim"]}, step=h["step"])
        log.info("resumed from %s at step %d", path, step)
        return state


class PeriodicCheckpoint(Hook):
    """After every ``every``-th step and the last: the rotating checkpoint of that step."""

    def __init__(self, checkpoints: Checkpoints, every: int):
        self.checkpoints, self.every = checkpoints, every

    def after_step(self, loop: Loop) -> None:
        if loop.due(self.every):
            self.checkpoints.save(loop.state)
