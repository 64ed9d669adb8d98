"""Structural similarity, the reference formulation of Wang et al. (IEEE TIP 2004, ``ssim_index.m``).

11x11 Gaussian window with sigma 1.5 (normalised to sum 1), K1 = 0.01, K2 = 0.03, statistics over
the valid region only (no padding), population (biased) variances; colour images are scored per
channel and the channel scores averaged.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from invdn.metrics.psnr import _as_float64


def gaussian_1d(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """(size,) float64 Gaussian summing to 1; its outer product with itself is :func:`gaussian_window`."""
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    return g / g.sum()


def gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """(size, size) float64 Gaussian window summing to 1 (MATLAB ``fspecial('gaussian', 11, 1.5)``)."""
    g = gaussian_1d(size, sigma)
    return torch.outer(g, g)


def ssim(img, ref, data_range: float = 255.0, channel_axis: int = 0) -> float:
    """Mean SSIM of two images, averaged over channels.

    Args:
        img, ref: (C, H, W) arrays or tensors (``channel_axis=0``; use -1 for (H, W, C)), or
            (H, W) grayscale, values in [0, data_range]; H and W at least 11.
        data_range: L in the constants C1 = (K1 L)^2, C2 = (K2 L)^2; 255 for uint8 images.

    Raises:
        ValueError: the shapes differ or the image is smaller than the 11x11 window.
    """
    a, b = _as_float64(img), _as_float64(ref)
    if a.shape != b.shape:
        raise ValueError(f"ssim: shapes differ, {tuple(a.shape)} vs {tuple(b.shape)}")
    if a.ndim == 2:
        a, b = a[None], b[None]
    elif channel_axis != 0:
        a, b = a.movedim(channel_axis, 0), b.movedim(channel_axis, 0)
    if min(a.shape[-2:]) < 11:
        raise ValueError(f"ssim: images must be at least 11x11, got {tuple(a.shape[-2:])}")
    g = gaussian_1d()
    # The 11x11 window is the outer product of a 1-D Gaussian, so filtering is two 1-D passes (22
    # instead of 121 multiply-adds per pixel; equal to the 2-D filter up to float64 round-off), and
    # the five statistics are filtered in one call: channels x {a, b, a^2, b^2, ab} as the batch.
    c = a.shape[0]
    stack = torch.cat((a, b, a * a, b * b, a * b))[:, None]  # (5C, 1, H, W)
    filtered = F.conv2d(F.conv2d(stack, g.view(1, 1, 1, -1)), g.view(1, 1, -1, 1))
    mu_a, mu_b, aa, bb, ab = filtered.split(c)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    var_a = aa - mu_a**2
    var_b = bb - mu_b**2
    cov = ab - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return (num / den).mean(dim=(1, 2, 3)).mean().item()


ssim.better = "higher"
