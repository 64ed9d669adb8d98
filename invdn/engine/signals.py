"""Stopping a training run on SIGTERM or Ctrl-C after a whole step, with a checkpoint to resume from.

A batch scheduler (Slurm, Snakemake's cluster profiles) sends SIGTERM before it kills a job; the
step in flight is finished, a checkpoint of it written and ``tracking.Terminated`` raised, so the
run resumes from that step (``--resume``). A second signal stops at once (KeyboardInterrupt).
"""
from __future__ import annotations

import contextlib
import signal
from typing import Iterator

from invdn.engine.checkpointing import Checkpoints
from invdn.engine.loop import Hook, Loop
from invdn.tracking.logger import Terminated


@contextlib.contextmanager
def graceful_stop() -> Iterator[dict]:
    """SIGTERM/SIGINT set a flag checked between steps; a second signal stops at once.

    Yields ``{"signal": None}``, whose ``"signal"`` becomes the number of the first signal received.
    Outside the main thread (where handlers cannot be installed) the flag never changes. The
    previous handlers are restored on exit."""
    flag = {"signal": None}

    def handler(signum, frame):
        if flag["signal"] is not None:
            raise KeyboardInterrupt
        flag["signal"] = signum

    try:
        previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    except ValueError:  # not the main thread
        yield flag
        return
    try:
        yield flag
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


class StopOnSignal(Hook):
    """After each step: when any process has received a signal, save a checkpoint of that step and
    raise ``Terminated`` on every process (all stop after the same step)."""

    def __init__(self, checkpoints: Checkpoints):
        self.checkpoints = checkpoints
        self.flag = {"signal": None}

    @contextlib.contextmanager
    def running(self, loop: Loop) -> Iterator[None]:
        with graceful_stop() as self.flag:
            yield

    def after_step(self, loop: Loop) -> None:
        if loop.group.any(self.flag["signal"] is not None):  # every rank stops after the same step
            self.checkpoints.save(loop.state)
            loop.group.barrier()  # torchrun stops the others when one exits: not before the checkpoint
            by = self.flag["signal"] if self.flag["signal"] is not None else "(received by another process)"
            raise Terminated(f"stopped by signal {by} after step {loop.state.step}; resume with --resume")
