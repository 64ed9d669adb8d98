"""Named metric protocols: how an image becomes a PSNR/SSIM number.

``canonical`` (the protocol of this project's tables, as SIDD/DND leaderboards and the InvDN
evaluation score): both images clamped to [0, 1] and rounded to uint8; PSNR on RGB with L = 255;
SSIM per RGB channel (Wang et al. reference, L = 255), averaged; no border crop.
"""
from __future__ import annotations

import torch

from ..data.io import float_to_uint8
from .psnr import psnr
from .ssim import ssim

CANONICAL = "canonical"


def canonical_scores(denoised: torch.Tensor, clean: torch.Tensor) -> tuple[float, float]:
    """(psnr in dB, ssim) of one image under the canonical protocol.

    Args:
        denoised, clean: (3, H, W) float in [0, 1] (values outside are clamped), same shape.
    """
    a = float_to_uint8(denoised).double()
    b = float_to_uint8(clean).double()
    return psnr(a, b, 255.0), ssim(a, b, 255.0)
