"""Named metric protocols: how a denoised/clean pair of images becomes a (PSNR, SSIM) pair.

Published denoising numbers differ by tenths of a dB depending on the protocol, so every number this
project writes (metrics JSON, MLflow params, table captions) carries the name of the protocol that
produced it. The names are stable; do not rename them.

Every protocol is built from three orthogonal parts, applied to both images alike:

1. *planes*: the (3, H, W) float input becomes (C, H, W) float64 planes on the scale [0, L];
   values outside [0, 1] are clamped first.
2. *crop*: a border of ``crop`` pixels is removed from each side of both planes.
3. *score*: PSNR in dB with peak L (:func:`~invdn.metrics.psnr.psnr`) and SSIM with data range L
   (:func:`~invdn.metrics.ssim.ssim`: Wang et al.'s reference formulation, 11x11 Gaussian window of
   sigma 1.5, valid region, per plane and averaged over the planes).

The protocols (``PROTOCOLS``):

``canonical``
    Both images quantised as when saved to an 8-bit PNG (clamp to [0, 1], x255, round half to even:
    :func:`~invdn.data.io.float_to_uint8`); PSNR on RGB with L = 255; SSIM per RGB channel with
    L = 255, averaged; no crop. The protocol of this project's tables (as the SIDD/DND leaderboards
    and the InvDN evaluation score).
``float``
    No quantisation: both images clamped to [0, 1] in float64; PSNR on RGB with L = 1; SSIM per RGB
    channel with L = 1, averaged; no crop. As MPRNet, Restormer and NAFNet score during validation.
``y``
    Both images quantised as in ``canonical``, then converted to BT.601 luma with MATLAB's
    ``rgb2ycbcr`` convention (:func:`rgb_to_bt601_luma`, Y in [16, 235]), computed in float64 and
    *not* re-rounded; PSNR and SSIM on Y with L = 255; no crop. The ``test_y_channel=True`` option of
    BasicSR / PaddleGAN (``to_y_channel``: "float type without round"); PaddleGAN's InvDN config
    combines it with a 4-pixel crop, which is ``y_crop4``.
``y_crop4``
    As ``y``, with a 4-pixel border removed from each side: PaddleGAN's ``configs/invdn_denoising.yaml``
    (``test_y_channel: True``, ``crop_border: 4``), for numbers comparable with that port's.
``crop4``
    As ``canonical``, with a 4-pixel border removed from each side before both metrics. As the
    validation in the official InvDN ``codes/train.py`` (uint8 images, border of ``opt['scale']`` = 4
    pixels cropped; it reports PSNR only, the SSIM here is this project's extension).
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping

import torch

from invdn.data.io import float_to_uint8
from invdn.metrics.psnr import psnr
from invdn.metrics.ssim import ssim

CANONICAL = "canonical"
FLOAT = "float"
Y = "y"
Y_CROP4 = "y_crop4"
CROP4 = "crop4"

# ITU-R BT.601 luma for R, G, B in [0, 1] with Y on the 8-bit studio-swing scale [16, 235], as
# MATLAB's rgb2ycbcr (and BasicSR's/PaddleGAN's copies of it); the weights sum to exactly 219.
BT601_Y_WEIGHTS = (65.481, 128.553, 24.966)
BT601_Y_OFFSET = 16.0

_SSIM_WINDOW = 11  # the side of the SSIM window: a plane must be at least this large after the crop

Scorer = Callable[[torch.Tensor, torch.Tensor], tuple[float, float]]
"""(denoised, clean) -> (PSNR in dB, SSIM); both (3, H, W) float tensors, nominally in [0, 1]."""


@dataclass(frozen=True)
class Protocol:
    """A named way of scoring one image.

    Attributes:
        name: the stable name written into metrics files, MLflow params and table captions.
        description: one sentence for a table caption or a report.
        scores: ``(denoised, clean) -> (psnr_db, ssim)`` for (3, H, W) float tensors in [0, 1]
            (values outside are clamped), same shape, any device; raises ValueError on other shapes.
    """

    name: str
    description: str
    scores: Scorer


def _uint8_levels(image: torch.Tensor) -> torch.Tensor:
    """(3, H, W) float -> (3, H, W) float64 integer levels in [0, 255]: the canonical quantisation."""
    return float_to_uint8(image).to(device="cpu", dtype=torch.float64)


def _unit_float(image: torch.Tensor) -> torch.Tensor:
    """(3, H, W) float -> (3, H, W) float64 clamped to [0, 1], not quantised."""
    return image.detach().to(device="cpu", dtype=torch.float64).clamp(0, 1)


def rgb_to_bt601_luma(levels: torch.Tensor) -> torch.Tensor:
    """(3, H, W) RGB on the scale [0, 255] -> (1, H, W) float64 BT.601 luma Y in [16, 235], unrounded.

    Y = 16 + (65.481 R + 128.553 G + 24.966 B) with R, G, B in [0, 1], i.e. MATLAB's ``rgb2ycbcr``
    Y channel. MATLAB rounds Y when given uint8 input; we do not, following BasicSR's and PaddleGAN's
    ``to_y_channel``, which convert float images and return Y "without round".
    """
    rgb = levels.to(dtype=torch.float64) / 255.0
    weights = torch.tensor(BT601_Y_WEIGHTS, dtype=torch.float64, device=rgb.device)
    return (BT601_Y_OFFSET + torch.tensordot(weights, rgb, dims=1))[None]


def _luma_levels(image: torch.Tensor) -> torch.Tensor:
    return rgb_to_bt601_luma(_uint8_levels(image))


def _scorer(name: str, planes: Callable[[torch.Tensor], torch.Tensor], data_range: float, crop: int = 0) -> Scorer:
    """The scores function of a protocol: ``planes`` on both images, crop ``crop`` pixels, PSNR and SSIM."""

    def score_pair(denoised: torch.Tensor, clean: torch.Tensor) -> tuple[float, float]:
        _check_pair(name, denoised, clean, crop)
        a, b = planes(denoised), planes(clean)
        if crop:
            a, b = a[..., crop:-crop, crop:-crop], b[..., crop:-crop, crop:-crop]
        return psnr(a, b, data_range), ssim(a, b, data_range)

    return score_pair


def _check_pair(name: str, denoised: torch.Tensor, clean: torch.Tensor, crop: int) -> None:
    if denoised.shape != clean.shape:
        raise ValueError(
            f"protocol {name!r}: denoised and clean shapes differ, {tuple(denoised.shape)} vs {tuple(clean.shape)}"
        )
    if denoised.ndim != 3 or denoised.shape[0] != 3:
        raise ValueError(
            f"protocol {name!r}: expected (3, H, W) RGB images, got shape {tuple(denoised.shape)}; "
            "drop the batch dimension (image[0]) or move channels first (image.permute(2, 0, 1))"
        )
    least = _SSIM_WINDOW + 2 * crop
    if min(denoised.shape[-2:]) < least:
        raise ValueError(
            f"protocol {name!r}: images must be at least {least}x{least} (the {_SSIM_WINDOW}x{_SSIM_WINDOW} SSIM "
            f"window after a {crop}-pixel crop), got {tuple(denoised.shape[-2:])}"
        )


def _protocol(name: str, description: str, planes: Callable[[torch.Tensor], torch.Tensor], data_range: float,
              crop: int = 0) -> Protocol:
    return Protocol(name, description, _scorer(name, planes, data_range, crop))


PROTOCOLS: Mapping[str, Protocol] = MappingProxyType({p.name: p for p in (
    _protocol(
        CANONICAL,
        "8-bit RGB: images rounded to uint8; PSNR (L = 255) and SSIM (Gaussian 11x11, sigma 1.5) on RGB, "
        "SSIM averaged over channels; no border crop",
        _uint8_levels, 255.0,
    ),
    _protocol(
        FLOAT,
        "float RGB: images clamped to [0, 1], not rounded; PSNR (L = 1) and SSIM (L = 1) on RGB, "
        "SSIM averaged over channels; no border crop",
        _unit_float, 1.0,
    ),
    _protocol(
        Y,
        "BT.601 luma: images rounded to uint8, converted to Y in [16, 235] (MATLAB rgb2ycbcr, not re-rounded); "
        "PSNR (L = 255) and SSIM (L = 255) on Y; no border crop",
        _luma_levels, 255.0,
    ),
    _protocol(
        CROP4,
        "8-bit RGB as canonical, with a 4-pixel border removed from each side before PSNR and SSIM",
        _uint8_levels, 255.0, crop=4,
    ),
    _protocol(
        Y_CROP4,
        "BT.601 luma as y, with a 4-pixel border removed from each side (PaddleGAN's InvDN config: "
        "test_y_channel with crop_border 4)",
        _luma_levels, 255.0, crop=4,
    ),
)})
"""Every protocol by its stable name (read-only)."""


def get_protocol(name: str) -> Protocol:
    """The protocol registered as ``name``.

    Raises:
        ValueError: no protocol has that name; the message lists the known names.
    """
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(f"unknown metric protocol {name!r}; known protocols: {', '.join(PROTOCOLS)}") from None


def scores(name: str, denoised: torch.Tensor, clean: torch.Tensor) -> tuple[float, float]:
    """(PSNR in dB, SSIM) of one image under the protocol ``name``.

    Args:
        name: a key of ``PROTOCOLS``.
        denoised, clean: (3, H, W) float RGB in [0, 1] (values outside are clamped), same shape.

    Raises:
        ValueError: unknown protocol (the message lists the known ones), or shapes that differ, are
            not (3, H, W), or are too small for the SSIM window after the protocol's crop.
    """
    return get_protocol(name).scores(denoised, clean)


def canonical_scores(denoised: torch.Tensor, clean: torch.Tensor) -> tuple[float, float]:
    """(psnr in dB, ssim) of one image under the canonical protocol.

    Args:
        denoised, clean: (3, H, W) float in [0, 1] (values outside are clamped), same shape.
    """
    return PROTOCOLS[CANONICAL].scores(denoised, clean)
