"""MATLAB-compatible bicubic ``imresize``, the resize the official InvDN code uses to make LQ images.

Source: MATLAB's ``imresize(img, scale, 'bicubic')`` (Image Processing Toolbox, antialiased when
shrinking, the default), as ported to Python in the official InvDN code (``imresize_np`` in
``codes/data/util.py``, from BasicSR). This is an independent, vectorised numpy
re-implementation of that algorithm. Torch's antialiased bicubic and OpenCV's INTER_CUBIC differ
from it at the borders / in the antialiasing, so neither reproduces the bundled LQ files. The
maintained ``resize-right`` package (symmetric padding) was tried first: it computes what
``imresize_bicubic`` computes (float64) and so misses the two float32 ties described below by one
grey level; an exact result needs ``make_lq``.

Two precisions:

* ``imresize_bicubic`` computes in float64: the algorithm itself, free of rounding noise.
* ``make_lq`` must reproduce the bundled LQ files bit for bit. Those were written by the official
  pipeline (the PaddlePaddle port that ships ``SIDD_mini``), which runs ``imresize_np`` in
  float32: 2 of the 491,520 bundled LQ values sit within 2.3e-6 grey levels of a .5 tie and
  round the other way in float64. So ``make_lq`` repeats the official float32 arithmetic,
  including the order in which its BLAS matrix-vector product sums the 16 taps (see
  ``_dot_official_float32``).
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

_KERNEL_WIDTH = 4.0  # support of the cubic kernel at scale 1


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's 'bicubic')."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


def _contributions(in_len: int, out_len: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Weights (out_len, P) float64 and 0-based source indices (out_len, P) int64 for one axis.

    Follows MATLAB's ``contributions``: when shrinking, the kernel is stretched by 1/scale
    (that stretch is the antialiasing); out-of-range taps are mirrored ('symmetric' padding).
    """
    if scale < 1:
        width = _KERNEL_WIDTH / scale
        kernel = lambda d: scale * _cubic(scale * d)  # noqa: E731
    else:
        width = _KERNEL_WIDTH
        kernel = _cubic
    x = np.arange(1, out_len + 1, dtype=np.float64)  # MATLAB's 1-based output coordinates
    u = x / scale + 0.5 * (1 - 1 / scale)  # where output pixel x lands in input coordinates
    left = np.floor(u - width / 2)
    taps = math.ceil(width) + 2  # one spare tap each side so no contributing pixel is missed
    idx = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    weights = kernel(u[:, None] - idx)
    weights /= weights.sum(axis=1, keepdims=True)  # rows sum to 1, border rows included
    # Mirror as MATLAB's aux = [1:in, in:-1:1] does: edge pixels are repeated, not skipped.
    period = np.mod(idx.astype(np.int64) - 1, 2 * in_len)
    idx0 = np.where(period < in_len, period, 2 * in_len - 1 - period)
    # The spare taps get zero weight in every row; MATLAB drops such columns.
    keep = np.any(weights != 0, axis=0)
    return weights[:, keep], idx0[:, keep]


def _dot_float64(taps: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return np.einsum("op...,op->o...", taps, weights)


def _dot_official_float32(taps: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Sum taps (out, P, ...) float32 x weights (out, P) float32 as the official pipeline's BLAS.

    The order was found empirically: 4 SIMD lanes, lane k accumulating taps k, k+4, k+8, ... with
    fused multiply-adds, then the lanes summed left to right. Of 34 plausible orders (1-16 lanes,
    with/without FMA, 4 lane reductions) it is the only one matching all bundled files; they
    hold only 4 pixels where the orders disagree, so this is verified for scale 4, not proven.
    """
    pad = -taps.shape[1] % 4
    if pad:  # zero-weight taps leave an FMA accumulator unchanged
        taps = np.concatenate([taps, np.zeros_like(taps[:, :pad])], axis=1)
        weights = np.concatenate([weights, np.zeros_like(weights[:, :pad])], axis=1)
    w = weights.reshape(weights.shape + (1,) * (taps.ndim - 2))
    lanes = taps[:, :4] * w[:, :4]
    for j in range(4, taps.shape[1], 4):
        # FMA: a float32 x float32 product is exact in float64, so only the sum is rounded
        # (via float64 first, a double rounding that differs from a true FMA ~1 in 2**29 sums).
        lanes = (taps[:, j:j + 4].astype(np.float64) * w[:, j:j + 4] + lanes).astype(np.float32)
    return ((lanes[:, 0] + lanes[:, 1]) + lanes[:, 2]) + lanes[:, 3]


def _resize(image: np.ndarray, scale: float, dtype: type, dot: Callable) -> np.ndarray:
    out = image.astype(dtype, copy=False)
    for axis in (0, 1):  # rows first, as MATLAB (equal scales) and the official port do
        weights, idx = _contributions(out.shape[axis], math.ceil(image.shape[axis] * scale), scale)
        moved = np.moveaxis(out, axis, 0)  # (in_len, ...)
        out = np.moveaxis(dot(moved[idx], weights.astype(dtype)), 0, axis)
    return out


def imresize_bicubic(image: np.ndarray, scale: float) -> np.ndarray:
    """Resize like MATLAB ``imresize(image, scale, 'bicubic')`` (antialiased when scale < 1).

    Args:
        image: (H, W, C) or (H, W) float array, values nominally in [0, 1]; any float dtype is
            accepted and computed in float64. Values are not clipped (bicubic overshoots slightly).
        scale: positive factor applied to both H and W; < 1 shrinks (antialiased), > 1 enlarges.

    Returns:
        float64 array of shape (ceil(H * scale), ceil(W * scale)[, C]).

    Raises:
        ValueError: scale is not positive, or image is not 2-D or 3-D.

    Source: MATLAB's imresize (bicubic, antialiasing on) as ported in the official InvDN code
    (``imresize_np``): cubic kernel a = -0.5, symmetric padding, rows resized first.
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W) or (H, W, C), got shape {image.shape}")
    return _resize(image, scale, np.float64, _dot_float64)


def make_lq(clean: np.ndarray, scale: int = 4) -> np.ndarray:
    """Make the LQ image of an InvDN training pair: a MATLAB-bicubic 1/scale downscale.

    Args:
        clean: (H, W, 3) uint8 clean image in [0, 255], H and W divisible by ``scale``.
        scale: integer downscale factor (4 in InvDN).

    Returns:
        (H / scale, W / scale, 3) uint8 in [0, 255].

    Raises:
        ValueError: H or W is not divisible by scale, scale < 1, or clean is not (H, W, 3).

    Pipeline of the official code, in its float32: x / 255 -> imresize (1 / scale) -> x 255 ->
    round half to even (OpenCV's float -> uint8 conversion on writing the PNG; the bundled files
    hold exact .5 ties, e.g. 68.5 -> 68, which half-away-from-zero gets wrong) -> clip -> uint8.
    Matches the bundled LQ files exactly at scale 4; ``imresize_bicubic`` (float64) would differ
    from them by 1 grey level at 2 of 491,520 values.
    """
    clean = np.asarray(clean)
    if clean.ndim != 3 or clean.shape[2] != 3:
        raise ValueError(f"clean must be (H, W, 3), got shape {clean.shape}")
    if scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    h, w = clean.shape[:2]
    if h % scale or w % scale:
        raise ValueError(f"image size {h}x{w} is not divisible by scale {scale}")
    x = clean.astype(np.float32) / np.float32(255)
    small = _resize(x, 1 / scale, np.float32, _dot_official_float32) * np.float32(255)
    return np.clip(np.rint(small), 0, 255).astype(np.uint8)
