"""The trivial reference every learned denoiser must beat: a low-pass by resizing."""
from __future__ import annotations

import torch
import torch.nn.functional as F


class BicubicDownUp:
    """Antialiased bicubic downscale by ``factor``, then bicubic upscale back to the input size.

    This is what InvDN would output if its LR branch were a plain 1/4 resize and its reverse pass a
    plain bicubic upscale, so it is the floor a trained InvDN has to clear. torch's
    ``interpolate(mode="bicubic", antialias=True)`` (not MATLAB's imresize).
    """

    name = "bicubic_down_up"
    label = "Bicubic x4 down-up"
    num_parameters = 0

    def __init__(self, factor: int = 4):
        if factor < 1:
            raise ValueError(f"factor must be >= 1, got {factor}")
        self.factor = factor

    def settings(self) -> dict:
        return {"factor": self.factor, "down": "bicubic, antialias", "up": "bicubic", "library": "torch"}

    def denoise(self, noisy: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) float in [0, 1] -> (N, 3, H, W) float."""
        h, w = noisy.shape[-2:]
        small = (max(1, round(h / self.factor)), max(1, round(w / self.factor)))
        low = F.interpolate(noisy, size=small, mode="bicubic", antialias=True, align_corners=False)
        return F.interpolate(low, size=(h, w), mode="bicubic", align_corners=False)
