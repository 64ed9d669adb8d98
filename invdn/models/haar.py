"""Invertible 2x2 Haar wavelet transform, as the official InvDN code defines it.

Source: Liu et al., CVPR 2021, §3.4 ("Invertible Wavelet Transformation"); the official implementation
(``HaarDownsampling`` in the InvDN / IRN code) fixes the layout reproduced here.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def haar_filters(channels: int) -> torch.Tensor:
    """The grouped-convolution filters of the Haar transform, shape (4*C, 1, 2, 2), float32.

    Per input channel the four 2x2 filters are: all ones (low-pass), then the column difference,
    the row difference and the diagonal difference (entries +-1). The forward transform divides by 4,
    so the low-pass sub-band is the 2x2 mean; since W @ W.T = 4 I, the inverse is the transposed
    convolution with the same filters and no scaling.
    """
    w = torch.ones(4, 1, 2, 2)
    w[1, 0, 0, 1] = w[1, 0, 1, 1] = -1
    w[2, 0, 1, 0] = w[2, 0, 1, 1] = -1
    w[3, 0, 1, 0] = w[3, 0, 0, 1] = -1
    return torch.cat([w] * channels, 0)


class HaarTransform(nn.Module):
    """(N, C, H, W) -> (N, 4C, H/2, W/2) and back, exactly invertible.

    Output channel order: sub-band is the outer index and the input channel the inner one, so
    channels [0, C) are the low-pass (2x2 mean) of each input channel, [C, 2C) the first detail
    band, and so on. H and W must be even (ValueError otherwise).

    The filters are a persistent buffer named ``haar_weights`` (the official state-dict name), not a
    parameter: they are never trained and are not counted in the parameter total.

    The output keeps the input's memory format: a channels_last input gives a channels_last output,
    so the coupling blocks that follow read oneDNN's preferred layout without a reorder.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.register_buffer("haar_weights", haar_filters(channels))

    @property
    def out_channels(self) -> int:
        return 4 * self.channels

    def forward(self, x: torch.Tensor, rev: bool = False) -> torch.Tensor:
        # exact in x's own precision: under autocast the convolutions below would round the whole
        # image to bf16/fp16 (a bf16 denoise lost 0.03 dB to that alone)
        if _autocast_enabled(x.device.type):
            with torch.autocast(x.device.type, enabled=False):
                return self._transform(x, rev)
        return self._transform(x, rev)

    def _transform(self, x: torch.Tensor, rev: bool) -> torch.Tensor:
        n, c, h, w = x.shape
        weights = self.haar_weights.to(x.dtype)
        if not rev:
            if c != self.channels or h % 2 or w % 2:
                raise ValueError(
                    f"HaarTransform expects (N, {self.channels}, H, W) with even H and W, got {tuple(x.shape)}"
                )
            out = F.conv2d(x, weights, stride=2, groups=c) / 4.0
            # conv output is channel-major (C, 4); the official layout is sub-band-major (4, C)
            out = out.reshape(n, c, 4, h // 2, w // 2).transpose(1, 2).reshape(n, 4 * c, h // 2, w // 2)
            return like_input(out, x)
        if c != 4 * self.channels:
            raise ValueError(f"HaarTransform.inverse expects {4 * self.channels} channels, got {c}")
        out = x.reshape(n, 4, self.channels, h, w).transpose(1, 2).reshape(n, c, h, w)
        return like_input(F.conv_transpose2d(out, weights, stride=2, groups=self.channels), x)


def _autocast_enabled(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except RuntimeError:  # a device without autocast (meta, as the cost table uses)
        return False


def like_input(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``out`` in ``x``'s memory format (channels_last or the default), copied only if it differs.

    Shared by the down-scaling transforms, whose reshapes would otherwise return the default layout."""
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return out.contiguous(memory_format=torch.channels_last)
    return out.contiguous()
