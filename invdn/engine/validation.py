"""Validation during training: PSNR/SSIM of the model on the validation pairs, at steps and at the end.

The scores are the canonical protocol's (``invdn.metrics.CANONICAL``) of the task's denoiser, as the
evaluation reports them, averaged over the pairs. Rank 0 validates alone while the other processes
wait. Each point is kept in ``TrainState.val_history``, which travels in the checkpoints and the model
file, so the run that writes ``model.pt`` holds the whole curve (paper Fig. 5).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from invdn.analysis.evaluate import Denoiser, score_pairs
from invdn.data import ImagePair
from invdn.engine.loop import Hook, Loop
from invdn.metrics import CANONICAL
from invdn.tracking.logger import Logger


def validate(model: torch.nn.Module, denoiser: Callable[[], Denoiser], pairs: Sequence[ImagePair],
             device: torch.device) -> dict[str, float]:
    """{"val_psnr": mean PSNR in dB, "val_ssim": mean SSIM} on ``pairs`` of the denoiser that
    ``denoiser()`` makes of ``model`` (a ``Task.denoiser``), run in eval mode; ``model`` is back in
    train mode after."""
    model.eval()
    scores = score_pairs(denoiser(), pairs, device, protocols=[CANONICAL])
    model.train()
    return {"val_psnr": float(np.mean([s.psnr for s in scores])), "val_ssim": float(np.mean([s.ssim for s in scores]))}


class Validation(Hook):
    """After every ``every``-th step (0: none) and the last: validate on ``pairs``, log the scores to
    MLflow (``val_psnr``, ``val_ssim`` at the step) and keep them in the state."""

    def __init__(self, pairs: Sequence[ImagePair], every: int, logger: Logger):
        self.pairs, self.every, self.logger = pairs, every, logger

    def after_step(self, loop: Loop) -> None:
        if not loop.due(self.every):
            return
        state = loop.state
        if loop.group.main:
            val = validate(loop.training.model, loop.training.task.denoiser, self.pairs, loop.group.device)
            state.val = val
            state.val_history.append({"step": state.step, **val})
            self.logger.log_metrics(val, step=state.step)
            loop.bar.write(f"step {state.step}: val PSNR {val['val_psnr']:.2f} dB, SSIM {val['val_ssim']:.4f}")
        loop.group.barrier()

    def after_training(self, loop: Loop) -> None:
        state = loop.state
        if not state.val and state.val_history and state.val_history[-1]["step"] == state.step:
            state.val = {k: state.val_history[-1][k] for k in ("val_psnr", "val_ssim")}  # resumed at the end
