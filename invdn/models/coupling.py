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
        return torch.cat(self.pair(*halves(x, self.split), rev=rev), dim=1)

    def pair(self, a: torch.Tensor, b: torch.Tensor, rev: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """``forward`` on the two parts (u_a, u_b) -> (y_a, y_b) (reverse: (y_a, y_b) -> (u_a, u_b)),
        without joining them: consecutive blocks pass the parts on (``InvDN``)."""
        if not rev:
            y_a = a + self.F(b)
            return y_a, b * torch.exp(self._log_scale(y_a)) + self.G(y_a)
        u_b = (b - self.G(a)) / torch.exp(self._log_scale(a))
        return a - self.F(u_b), u_b

    def rebuild_and_backward(self, out: torch.Tensor, grad_out: torch.Tensor, rev: bool, params):
        """Backward step for ``reversible_chain`` from this block's output alone.

        Returns ``(input, dL/dinput, [dL/dp for p in params])``. Each subnet runs once, with
        autograd on, and serves both rebuilding the input and the gradient: one subnet pass per
        block fewer than the generic rebuild-then-recompute (``reversible.rebuild_and_backward``).
        """
        s = self.split
        owner = {id(p): name for name in ("F", "G", "H") for p in getattr(self, name).parameters()}
        fp = [p for p in params if owner[id(p)] == "F"]
        ghp = [p for p in params if owner[id(p)] != "F"]
        found: dict[int, torch.Tensor | None] = {}
        (ya, yb), (ga, gb) = (out[:, :s], out[:, s:]), (grad_out[:, :s], grad_out[:, s:])
        with torch.enable_grad():
            if not rev:
                # forward: y_a = u_a + F(u_b); y_b = u_b * exp(s(y_a)) + G(y_a)
                ya = ya.detach().requires_grad_(True)
                scale, shift = torch.exp(self._log_scale(ya)), self.G(ya)
                ub = ((yb - shift) / scale).detach()
                ub_leaf = ub.requires_grad_(True)
                got = torch.autograd.grad(ub_leaf * scale + shift, (ya, ub_leaf, *ghp), gb, allow_unused=True)
                grad_ya, grad_ub = ga + got[0], got[1]
                found.update(zip(map(id, ghp), got[2:]))
                u_b = ub_leaf.detach().requires_grad_(True)
                f = self.F(u_b)
                got = torch.autograd.grad(f, (u_b, *fp), grad_ya, allow_unused=True)
                found.update(zip(map(id, fp), got[1:]))
                rebuilt = torch.cat((ya.detach() - f.detach(), u_b.detach()), dim=1)
                grad_in = torch.cat((grad_ya, grad_ub + got[0]), dim=1)
            else:
                # reverse: u_b = (y_b - G(y_a)) / exp(s(y_a)); u_a = y_a - F(u_b); here out = (u_a, u_b)
                ub = yb.detach().requires_grad_(True)
                f = self.F(ub)
                got = torch.autograd.grad(f, (ub, *fp), -ga, allow_unused=True)
                grad_ub = gb + got[0]
                found.update(zip(map(id, fp), got[1:]))
                y_a = (ya.detach() + f.detach()).requires_grad_(True)
                scale, shift = torch.exp(self._log_scale(y_a)), self.G(y_a)
                y_b = (ub.detach() * scale + shift).detach().requires_grad_(True)
                got = torch.autograd.grad((y_b - shift) / scale, (y_a, y_b, *ghp), grad_ub, allow_unused=True)
                found.update(zip(map(id, ghp), got[2:]))
                rebuilt = torch.cat((y_a.detach(), y_b.detach()), dim=1)
                grad_in = torch.cat((ga + got[0], got[1]), dim=1)
        return rebuilt, grad_in, [found.get(id(p)) for p in params]


def halves(x: torch.Tensor, split: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, C, H, W) -> its first ``split`` channels and the rest; from a channels_last ``x`` each part
    is a contiguous channels_last copy. A strided channel slice is in neither memory format, and the
    subnets' convolutions on it ran several times slower (a 3->64 conv1 at 128x128: 2.3 ms against
    0.5 ms on 2 cores; a 256x256 denoise lost about 5%, measured for issue 19)."""
    a, b = x[:, :split], x[:, split:]
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return a.contiguous(memory_format=torch.channels_last), b.contiguous(memory_format=torch.channels_last)
    return a, b
