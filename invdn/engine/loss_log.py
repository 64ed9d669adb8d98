"""The losses a training run logs as it goes: to MLflow every ``train.log_every`` steps and at the last.

Metrics, at the step just done: ``loss`` (the total), ``loss_<part>`` for each other term of the
task's loss (InvDN: ``loss_forward``, ``loss_backward``, ...), ``lr`` (of the first parameter
group) and ``iterations_per_s`` since the previous log point (wall clock).
"""
from __future__ import annotations

import time

from invdn.engine.loop import Hook, Loop
from invdn.tracking.logger import Logger


class LossLog(Hook):
    """Logs the last step's losses, the lr and the speed every ``every`` steps and at the last one."""

    def __init__(self, every: int, logger: Logger):
        self.every, self.logger = every, logger
        self.tick, self.tick_step = time.perf_counter(), 0

    def before_training(self, loop: Loop) -> None:
        self.tick, self.tick_step = time.perf_counter(), loop.state.step

    def after_step(self, loop: Loop) -> None:
        if not loop.due(self.every):
            return
        step, losses = loop.state.step, loop.state.losses
        now = time.perf_counter()
        rate = (step - self.tick_step) / max(now - self.tick, 1e-9)
        self.tick, self.tick_step = now, step
        self.logger.log_metrics({
            "loss": losses["total"], **{f"loss_{k}": v for k, v in losses.items() if k != "total"},
            "lr": loop.training.optimizer.param_groups[0]["lr"], "iterations_per_s": rate,
        }, step=step)
