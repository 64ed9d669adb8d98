"""The InvDN training objective (paper §3.4, Eq. 1 and the backward objective; official code).

Both reconstruction terms follow the official ``ReconstructionLoss``: summed over (C, H, W) and
averaged over the batch (not averaged over pixels as the paper's 1/M writes), which is why the
official forward weight is 16 and the backward weight 1. The official "l1" is a Charbonnier
loss, sqrt(diff^2 + eps), and is named so here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .models import InvDN


def sum_squared_error(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """mean_n sum_{c,h,w} (x - target)^2 for (N, C, H, W) tensors (official "l2")."""
    return torch.sum((x - target) ** 2, dim=(1, 2, 3)).mean()


def charbonnier(x: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """mean_n sum_{c,h,w} sqrt((x - target)^2 + eps) for (N, C, H, W) tensors (official "l1")."""
    diff = x - target
    return torch.sum(torch.sqrt(diff * diff + eps), dim=(1, 2, 3)).mean()


RECONSTRUCTION_LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "l2": sum_squared_error,
    "charbonnier": charbonnier,
}


@dataclass(frozen=True)
class Objective:
    """lambda_forward * L_forw(lr, lq) + lambda_backward * L_back(reverse([lr ; z_hf]), clean).

    Defaults are the official train_InvDN.yml: forward "l2" with weight 16, backward Charbonnier
    (eps 1e-3) with weight 1, z_hf ~ N(0, I).
    """

    forward_loss: str = "l2"
    backward_loss: str = "charbonnier"
    lambda_forward: float = 16.0
    lambda_backward: float = 1.0
    charbonnier_eps: float = 1e-3

    def _loss(self, name: str, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        fn = RECONSTRUCTION_LOSSES[name]
        return fn(x, target, self.charbonnier_eps) if name == "charbonnier" else fn(x, target)

    def __call__(
        self,
        model: InvDN,
        noisy: torch.Tensor,
        clean: torch.Tensor,
        lq: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> dict[str, torch.Tensor]:
        """Losses for one batch: noisy, clean (N, C, H, W) and lq (N, C, H/s, W/s), float in [0, 1].

        ``generator`` draws z_hf (on the model's device). Returns {"forward", "backward", "total"}.
        """
        latent = model(noisy)
        lr, z = model.split_latent(latent)
        z_hf = torch.randn(z.shape, generator=generator, device=z.device, dtype=z.dtype)
        restored = model(torch.cat((lr, z_hf), dim=1), rev=True)
        forward = self.lambda_forward * self._loss(self.forward_loss, lr, lq)
        backward = self.lambda_backward * self._loss(self.backward_loss, restored, clean)
        return {"forward": forward, "backward": backward, "total": forward + backward}
