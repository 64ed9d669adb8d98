"""What a training run does when its loss becomes NaN or Inf: stop with the evidence, or roll back.

The weights before the bad step are saved (``before_nonfinite_step<N>.pt``) and the message names
the step, the loss terms and the source images of the batch. With ``train.nan_rollbacks`` left, the
run goes back to its newest checkpoint with the lr multiplied by ``train.nan_lr_factor`` and
continues (MLflow tags ``nan_rollbacks``, ``nan_rollback_<k>``; metric ``nan_rollback_lr``);
otherwise it stops with ``NonFiniteLossError``. The losses are averaged over the processes first,
so a NaN on any process stops (or rolls back) all of them at the same step.
"""
from __future__ import annotations

import logging

import torch

from invdn.config import TrainConfig
from invdn.engine.checkpointing import Checkpoints
from invdn.engine.loop import Hook, Loop
from invdn.tracking.logger import Logger

log = logging.getLogger(__name__)


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or Inf; the message names the step, the source files and a checkpoint."""


class NanGuard(Hook):
    """Checks each step's loss before the update; see the module docstring.

    ``settings``: the run's ``train`` section (``nan_rollbacks``, ``nan_lr_factor``, ``checkpoint_every``).
    """

    def __init__(self, checkpoints: Checkpoints, settings: TrainConfig, logger: Logger):
        self.checkpoints, self.settings, self.logger = checkpoints, settings, logger

    def before_training(self, loop: Loop) -> None:
        if loop.state.step == 0 and self.settings.nan_rollbacks:
            self.checkpoints.save(loop.state)  # a NaN before the first periodic checkpoint still has one to go back to

    def after_loss(self, loop: Loop, parts: dict[str, torch.Tensor], batch: dict) -> bool:
        """False for a finite loss; else save the weights, then roll back (True) or raise.

        Raises:
            NonFiniteLossError: no rollback left, or no checkpoint to roll back to.
        """
        if torch.isfinite(parts["total"]):
            return False
        state = loop.state
        bad = self.checkpoints.directory / f"before_nonfinite_step{state.step + 1}.pt"
        self.checkpoints.save(state, bad)
        pairs = loop.training.dataset.pairs
        files = sorted({str(pairs[i].noisy) for i in loop.group.gather(batch["index"]).tolist()})
        terms = ", ".join(f"{k} {v.item()}" for k, v in parts.items() if k != "total")
        message = (f"loss is {parts['total'].item()} at step {state.step + 1} ({terms}); "
                   f"batch from: {', '.join(files)}; weights before this step: {bad}")
        if state.nan_rollbacks >= self.settings.nan_rollbacks:
            loop.group.barrier()  # rank 0 has written the checkpoint the message names
            raise NonFiniteLossError(message)
        state.step = self._roll_back(loop, message)
        state.nan_rollbacks += 1
        return True

    def _roll_back(self, loop: Loop, message: str) -> int:
        """Back to the newest checkpoint with the lr scaled down, recorded in MLflow; the step gone back to.

        The reductions accumulate: the k-th rollback runs at nan_lr_factor**k times the schedule's lr, also
        when it goes back to a checkpoint written before an earlier rollback (whose optimizer holds a larger lr).
        """
        state, t = loop.state, self.settings
        saved, path = self.checkpoints.newest_loadable()
        if saved is None:
            raise NonFiniteLossError(
                f"{message}; no checkpoint to roll back to (checkpoint_every {t.checkpoint_every})")
        back = self.checkpoints.restore(saved)
        state.val_history[:] = [h for h in state.val_history if h["step"] <= back]
        target = state.lr_scale * t.nan_lr_factor
        optimizer = loop.training.optimizer
        for param_group in optimizer.param_groups:
            param_group["lr"] *= target / float(saved.get("lr_scale", 1.0))
        state.lr_scale = target
        lr = optimizer.param_groups[0]["lr"]
        log.warning("%s; rolled back to %s (step %d), lr now %g", message, path, back, lr)
        k = state.nan_rollbacks + 1
        self.logger.set_tags({"nan_rollbacks": str(k),
                              f"nan_rollback_{k}": f"{message}; rolled back to step {back}, lr {lr:g}"[:5000]})
        self.logger.log_metrics({"nan_rollback_lr": lr}, step=back)
        return back
