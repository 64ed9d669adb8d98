"""Peak signal-to-noise ratio."""
from __future__ import annotations

import math

import numpy as np
import torch


def _as_float64(x) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    return x.detach().to(device="cpu", dtype=torch.float64)


def psnr(img, ref, data_range: float = 255.0) -> float:
    """PSNR in dB between two images of the same shape (any layout), computed in float64.

    Args:
        img, ref: arrays or tensors of equal shape, values in [0, data_range].
        data_range: 255 for uint8 images (the canonical protocol), 1 for [0, 1] floats.

    Returns:
        10 * log10(data_range**2 / MSE); ``inf`` when the images are identical.

    Raises:
        ValueError: the shapes differ.
    """
    a, b = _as_float64(img), _as_float64(ref)
    if a.shape != b.shape:
        raise ValueError(f"psnr: shapes differ, {tuple(a.shape)} vs {tuple(b.shape)}")
    mse = torch.mean((a - b) ** 2).item()
    if mse == 0:
        return math.inf
    return 10.0 * math.log10(data_range**2 / mse)


psnr.better = "higher"
