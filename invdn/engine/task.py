"""What the training loop trains: a model, its loss and how validation denoises with it.

InvDN's task is here (``invdn_task``); the learned baselines build theirs
(``baselines.learned.network_task``) and train through the same loop.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from invdn.analysis.evaluate import Denoiser, invdn_denoiser
from invdn.config import RunConfig
from invdn.inference.config import InferenceConfig
from invdn.inference.modes import Mode
from invdn.losses import Objective
from invdn.models import InvDN


@dataclass
class Task:
    """What the training loop trains: one model, its loss and how validation denoises with it.

    ``loss(batch, generator)`` takes a batch of ``TrainPatches`` (noisy, clean (N, 3, P, P), lq,
    float in [0, 1], on the device) and returns {"total": scalar, <part>: scalar, ...}; the parts
    are logged as ``loss_<part>``. ``arch`` is stored in checkpoints to rebuild the model.
    The total is a mean over the batch and draws from ``generator`` are torch.randn/torch.rand of
    (N, ...) tensors: with several processes each computes its share of the step's batch exactly
    (``invdn.engine.distributed``).
    ``lq_scale`` is the factor of the batch's LQ patches.
    """

    model: torch.nn.Module
    loss: Callable[[dict, torch.Generator], dict[str, torch.Tensor]]
    denoiser: Callable[[], Denoiser]
    arch: dict
    lq_scale: int


def invdn_task(cfg: RunConfig) -> Task:
    """InvDN and the official objective (paper §3.3, losses of train_InvDN.yml)."""
    t = cfg.train
    model = InvDN(cfg.model)
    model.memory_saving = t.memory_saving
    objective = Objective(t.forward_loss, t.backward_loss, t.lambda_forward, t.lambda_backward, t.charbonnier_eps,
                          lambda_gradient=t.lambda_gradient, lambda_ssim=t.lambda_ssim)
    return Task(
        model=model,
        loss=lambda batch, gen: objective(model, batch["noisy"], batch["clean"], batch["lq"], gen),
        denoiser=lambda: invdn_denoiser(model, InferenceConfig(Mode.SINGLE, 1, t.seed)),
        arch=cfg.model.to_dict(),
        lq_scale=model.scale,
    )
