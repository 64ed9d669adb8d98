"""Checkerboard "squeeze" (space-to-depth) of RealNVP / Glow, the non-wavelet down-scaling of InvDN.

Source: Liu et al., CVPR 2021, §3.4 and Fig. 2 ("Squeeze operation reshapes the input into feature
maps with more channels according to a checkerboard pattern"), which the paper compares with the
Haar wavelet transform; the operation itself is RealNVP's (Dinh et al., ICLR 2017, §3.6). The
official InvDN code only ships ``HaarDownsampling``, so the channel layout below is ours: it is
chosen to match ``HaarTransform`` (see the class docstring).
"""
from __future__ import annotations

import torch
from torch import nn

from invdn.models.haar import like_input


class SqueezeTransform(nn.Module):
    """(N, C, H, W) -> (N, 4C, H/2, W/2) and back, a pure permutation (exactly invertible).

    Each 2x2 block ``[[a, b], [c, d]]`` of each input channel is moved into four channels.
    Output channel order: the 2x2 position is the outer index and the input channel the inner one,
    exactly like the sub-band order of ``HaarTransform``::

        channels [0,  C)  a = x[..., 0::2, 0::2]  (top-left)
        channels [C,  2C) b = x[..., 0::2, 1::2]  (top-right)
        channels [2C, 3C) c = x[..., 1::2, 0::2]  (bottom-left)
        channels [3C, 4C) d = x[..., 1::2, 1::2]  (bottom-right)

    The order matters: InvDN's coupling blocks treat the first C channels as the low-resolution
    image ``lr``, so with this layout ``lr`` starts as the top-left sub-sampled image (where Haar
    gives the 2x2 mean). ``F.pixel_unshuffle`` would give the channel-major order (C, 4) instead.

    H and W must be even (ValueError otherwise). The output keeps the input's memory format. No parameters and no buffers: the state dict of a
    squeeze operation is empty.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels

    @property
    def out_channels(self) -> int:
        return 4 * self.channels

    def forward(self, x: torch.Tensor, rev: bool = False) -> torch.Tensor:
        n, c, h, w = x.shape
        if not rev:
            if c != self.channels or h % 2 or w % 2:
                raise ValueError(
                    f"SqueezeTransform expects (N, {self.channels}, H, W) with even H and W, got {tuple(x.shape)}"
                )
            # (n, c, h/2, row offset i, w/2, col offset j) -> (n, i, j, c, h/2, w/2): position-major
            out = x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 3, 5, 1, 2, 4)
            return like_input(out.reshape(n, 4 * c, h // 2, w // 2), x)
        if c != 4 * self.channels:
            raise ValueError(f"SqueezeTransform.inverse expects {4 * self.channels} channels, got {c}")
        # exact inverse permutation of the forward: (n, i, j, C, h, w) -> (n, C, h, i, w, j)
        out = x.reshape(n, 2, 2, self.channels, h, w).permute(0, 3, 4, 1, 5, 2)
        return like_input(out.reshape(n, self.channels, 2 * h, 2 * w), x)
