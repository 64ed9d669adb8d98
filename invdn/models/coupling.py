"""Affine coupling block of InvDN (paper Table 1 with Eq. 2; official ``InvBlockExp``)."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

SubnetFactory = Callable[[int, int], nn.Module]


class CouplingBlock(nn.Module):
    """Invertible coupling on (N, C, H, W), split into u_a = first ``split`` channels, u_b = the rest.

    Forward::

        y_a = u_a + F(u_b)
        s   = clamp * (2 * sigmoid(H(y_a)) - 1)
        y_b = u_b * exp(s) + G(y_a)

    Reverse undoes it exactly: u_b = (y_b - G(y_a)) / exp(s), u_a = y_a - F(u_b).
    The soft clamp bounds the log-scale s to (-clamp, clamp), so the inverse never divides by ~0.
    """

    def __init__(self, channels: int, split: int, subnet: SubnetFactory, clamp: float = 1.0):
        super().__init__()
        if not 0 < split < channels:
            raise ValueError(f"split must be in (0, {channels}), got {split}")
        self.split = split
        self.clamp = clamp
        rest = channels - split
        self.F = subnet(rest, split)
        self.G = subnet(split, rest)
        self.H = subnet(split, rest)

    def _log_scale(self, y_a: torch.Tensor) -> torch.Tensor:
        return self.clamp * (torch.sigmoid(self.H(y_a)) * 2 - 1)

    def forward(self, x: torch.Tensor, rev: bool = False) -> torch.Tensor:
        a, b = x[:, : self.split], x[:, self.split :]
        if not rev:
            y_a = a + self.F(b)
            y_b = b * torch.exp(self._log_scale(y_a)) + self.G(y_a)
            return torch.cat((y_a, y_b), dim=1)
        u_b = (b - self.G(a)) / torch.exp(self._log_scale(a))
        u_a = a - self.F(u_b)
        return torch.cat((u_a, u_b), dim=1)
