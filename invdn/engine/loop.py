"""The training loop: steps over the run's batches, with hooks called at fixed points.

One step: the batch to the device, the loss under autocast (z_hf from ``step_generator``), the
losses averaged over the processes, the hooks' ``after_loss`` (the NaN guard may abandon the step
here), backward, gradients averaged over the processes, clipping, the optimizer and lr schedule
steps, then the hooks' ``after_step`` in their order (``invdn.engine.trainer`` gives: the loss log,
validation, periodic checkpoints, stopping on a signal).

Everything random is a function of the seed and the step, never of how the run got there: the
batch of step s is samples [s B, (s + 1) B) of ``TrainPatches`` (seeded per sample) and z_hf comes
from a generator seeded with (seed, s). A run resumed or rolled back to step s therefore continues
exactly as one that never stopped (bit for bit on CPU).
"""
from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from invdn.config import TrainConfig
from invdn.data import TrainPatches
from invdn.engine.amp import Amp
from invdn.engine.distributed import Group
from invdn.engine.task import Task


def step_generator(seed: int, step: int, device: torch.device) -> torch.Generator:
    """The generator of z_hf at ``step``: re-seeded per step so resuming needs no RNG state."""
    derived = np.random.SeedSequence([seed, 0x5A, step]).generate_state(1, np.uint64)[0]
    return torch.Generator(device=device).manual_seed(int(derived))


@dataclass
class Training:
    """What the loop steps: the task, its model on the device (``task.model``, made channels-last or
    SyncBatchNorm where that applies), the optimizer, lr schedule and precision, and the samples."""

    task: Task
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    amp: Amp
    dataset: TrainPatches


@dataclass
class TrainState:
    """Where a run is: the step done last and what the checkpoints record beside the weights and the
    optimizer (rollbacks so far, their lr factor, the validation history), and the last step's losses
    and this process's last validation scores (``TrainResult``)."""

    step: int = 0
    nan_rollbacks: int = 0
    lr_scale: float = 1.0  # product of the nan_lr_factor of every rollback so far (its lr is in the optimizer state)
    val_history: list[dict] = field(default_factory=list)  # validation points, {"step", "val_psnr", "val_ssim"}
    losses: dict[str, float] = field(default_factory=dict)
    val: dict[str, float] = field(default_factory=dict)


class Hook:
    """Something the loop calls at fixed points; each method does nothing unless a hook overrides it.

    In order: ``before_training`` once; ``running``'s context is held while the steps run; per step,
    ``after_loss`` with the step's losses (averaged over the processes) before the update, then
    ``after_step`` once ``loop.state.step`` counts the step; ``after_training`` once the last step
    is done. Each is called on every process, so a hook that communicates does so on all of them.
    """

    def before_training(self, loop: Loop) -> None:
        pass

    def running(self, loop: Loop) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def after_loss(self, loop: Loop, parts: dict[str, torch.Tensor], batch: dict) -> bool:
        """True abandons the step: the hook has moved ``loop.state`` (e.g. back to a checkpoint),
        the hooks after it are not asked, and the loop restarts its batches at ``loop.state.step``."""
        return False

    def after_step(self, loop: Loop) -> None:
        pass

    def after_training(self, loop: Loop) -> None:
        pass


class Loop:
    """Trains ``training`` from ``state.step`` to ``settings.iterations``, calling ``hooks`` in order.

    Attributes the hooks use: ``training``, ``group`` (this process among the run's), ``state``
    (moved on by the loop, or by a hook that abandons a step), ``iterations``, ``bar`` (the progress
    bar, for messages) and ``due``.
    """

    def __init__(self, settings: TrainConfig, training: Training, group: Group, state: TrainState,
                 hooks: Sequence[Hook], progress: bool = True):
        self.settings, self.training, self.group, self.state = settings, training, group, state
        self.hooks = list(hooks)
        self.progress = progress
        self.iterations = settings.iterations
        self.bar: tqdm | None = None

    def due(self, every: int) -> bool:
        """Whether the step just done is a multiple of ``every`` (never when it is 0) or the last one."""
        step = self.state.step
        return bool(every and step % every == 0) or step == self.iterations

    def run(self) -> None:
        """Run the steps left.

        Raises:
            RuntimeError: the batches ran out before the last step; or whatever a hook raises.
        """
        for hook in self.hooks:
            hook.before_training(self)
        self.training.model.train()
        with contextlib.ExitStack() as stack:
            for hook in self.hooks:
                stack.enter_context(hook.running(self))
            self.bar = stack.enter_context(self._progress_bar())  # closed first, as it is entered last
            while self.state.step < self.iterations:
                if not self._steps():
                    break  # the batches ran out: step == iterations
        if self.state.step < self.iterations:
            raise RuntimeError(f"training stopped at step {self.state.step} of {self.iterations}")
        for hook in self.hooks:
            hook.after_training(self)

    def _progress_bar(self) -> tqdm:
        # in a log file (Snakemake jobs) a progress line every 30 s, not every 0.1 s
        return tqdm(total=self.iterations, initial=self.state.step, desc="train", unit="it", disable=not self.progress,
                    dynamic_ncols=True, mininterval=0.1 if sys.stderr.isatty() else 30)

    def _steps(self) -> bool:
        """Steps over the batches from ``state.step`` on. True when a hook abandoned a step (the
        batches restart at the step it moved the state to), False when the batches ran out."""
        for batch in self._batches(self.state.step):
            parts, total = self._loss(batch)
            if any(hook.after_loss(self, parts, batch) for hook in self.hooks):
                self.bar.reset(total=self.iterations)
                self.bar.update(self.state.step)
                return True
            self._update(total)
            self.state.step += 1
            self.state.losses = {k: v.item() for k, v in parts.items()}
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{self.state.losses['total']:.3g}", refresh=False)
            for hook in self.hooks:
                hook.after_step(self)
        return False

    def _batches(self, start: int) -> DataLoader:
        """The run's batches from step ``start`` on (the same ones after a resume or a rollback)."""
        t, device = self.settings, self.group.device
        return DataLoader(
            self.training.dataset,
            batch_size=t.batch_size,
            sampler=self.group.samples(start, t.iterations, t.batch_size),
            num_workers=t.num_workers,
            pin_memory=device.type == "cuda",
            drop_last=True,
        )

    def _loss(self, batch: dict) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """(the step's losses averaged over the processes, this process's total to back-propagate)."""
        device = self.group.device
        batch.update({k: batch[k].to(device, non_blocking=True) for k in ("noisy", "clean", "lq")})
        gen = step_generator(self.settings.seed, self.state.step, device)
        with self.training.amp.autocast(), self.group.rank_rows(gen, self.settings.batch_size):
            out = self.training.task.loss(batch, gen)
        return self.group.mean(out), out["total"]  # the whole step's batch: non-finite on every rank when on any

    def _update(self, total: torch.Tensor) -> None:
        """Backward pass, gradients averaged over the processes, clipping, optimizer and lr schedule steps."""
        tr, clip = self.training, self.settings.grad_clip
        scaler = tr.amp.scaler
        tr.optimizer.zero_grad(set_to_none=True)
        scaler.scale(total).backward()
        self.group.average_gradients(tr.model.parameters())
        if clip > 0:
            scaler.unscale_(tr.optimizer)
            torch.nn.utils.clip_grad_norm_(tr.model.parameters(), clip)
        scaler.step(tr.optimizer)
        scaler.update()
        tr.scheduler.step()
