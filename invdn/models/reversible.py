"""Memory-saving backpropagation through a chain of invertible operations.

Because every InvDN operation is exactly invertible, a training step does not need to keep the
activations of its coupling blocks: the backward pass walks the chain from its output, rebuilds
each operation's input with the exact inverse, re-runs that one operation with autograd on and
backpropagates through it (the reversible-network idea of Gomez et al., NeurIPS 2017, "The
Reversible Residual Network"). Memory then holds one operation's graph at a time instead of all
of them, so it no longer grows with ``inv_blocks``; the price is one extra inverse and one extra
forward of each operation per step. The paper names this property of invertible networks (§1) but
the official code never used it.

Numerics: the rebuilt inputs differ from the true ones by floating-point round-off (the coupling
log-scale is soft-clamped, so the inverse is well conditioned); gradients agree with ordinary
autograd to round-off (see tests/test_reversible.py).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


def rebuild_and_backward(op: nn.Module, y: torch.Tensor, grad_y: torch.Tensor, rev: bool,
                         params: Sequence[nn.Parameter]):
    """The generic backward step of one invertible ``op`` from its output ``y`` alone.

    Rebuilds the input x = op^-1(y), re-runs ``op(x, rev=rev)`` with autograd on and returns
    ``(x, dL/dx, [dL/dp for p in params])`` (None where a parameter is unused). Operations may
    provide their own ``rebuild_and_backward`` with the same contract that shares work between
    the inverse and the recomputation (``CouplingBlock`` does).
    """
    with torch.no_grad():
        x = op(y, rev=not rev)
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        y_again = op(x, rev=rev)
    found = torch.autograd.grad(y_again, (x, *params), grad_y, allow_unused=True)
    return x.detach(), found[0], list(found[1:])


class _ReversibleChain(torch.autograd.Function):
    """y = op_k(...op_1(x)); keeps only y and rebuilds the rest in ``backward``."""

    @staticmethod
    def forward(ctx, ops, rev, params_per_op, x, *params):
        ctx.ops, ctx.rev, ctx.params_per_op = ops, rev, params_per_op
        ctx.device_type = x.device.type
        ctx.autocast = (torch.is_autocast_enabled(x.device.type), torch.get_autocast_dtype(x.device.type))
        with torch.no_grad():
            y = x
            for op in ops:
                y = op(y, rev=rev)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        (y,) = ctx.saved_tensors
        enabled, dtype = ctx.autocast
        grads: list[torch.Tensor | None] = []
        y = y.detach()
        with torch.autocast(ctx.device_type, dtype=dtype, enabled=enabled):
            for op, params in zip(reversed(ctx.ops), reversed(ctx.params_per_op)):
                step = getattr(op, "rebuild_and_backward", None)
                if step is None:
                    y, grad_y, found = rebuild_and_backward(op, y, grad_y, ctx.rev, params)
                else:
                    y, grad_y, found = step(y, grad_y, ctx.rev, params)
                grads = found + grads
        return (None, None, None, grad_y, *grads)


def reversible_chain(ops: Sequence[nn.Module], x: torch.Tensor, rev: bool = False) -> torch.Tensor:
    """Apply ``ops`` in order (``rev=False``) or their inverses in reverse order, keeping no activations.

    Each op must be invertible with the signature ``op(x, rev=False)``. Outputs equal the plain
    chain's (same operations); the backward pass rebuilds as the module docstring describes.
    Gradients flow to ``x`` and to every parameter of ``ops`` that requires grad.
    """
    chain = list(reversed(ops)) if rev else list(ops)
    params_per_op = [tuple(p for p in op.parameters() if p.requires_grad) for op in chain]
    flat = [p for group in params_per_op for p in group]
    return _ReversibleChain.apply(chain, rev, params_per_op, x, *flat)
