"""MATLAB-compatible bicubic ``imresize``, the resize the official InvDN code uses to make LQ images.

Source: MATLAB's ``imresize(img, scale, 'bicubic')`` (Image Processing Toolbox, antialiased when
shrinking, the default), as ported to Python in the official InvDN code (``imresize_np`` in
``codes/data/util.py``, from BasicSR). Torch's antialiased bicubic and OpenCV's INTER_CUBIC differ
from it at the borders / in the antialiasing, so neither reproduces the bundled LQ files; the
maintained ``resize-right`` package (symmetric padding) computes what ``imresize_bicubic`` computes.

Two implementations of the same algorithm:

* ``imresize_bicubic``: an independent, vectorised numpy version in float64, the algorithm itself,
  free of rounding noise. The official code computes in float32, and values within float32 noise
  of a .5 tie round the other way: 2 of the 491,520 bundled LQ values (within 2.3e-6 grey levels
  of a tie) differ from ``imresize_bicubic`` by one grey level.
* ``make_lq``: the official LQ recipe at every value. It performs the official float32 torch
  operations in the official order (this module's own code; the official code is not needed):
  the weights from ``torch.linspace``, the cubic kernel and the row-sum normalisation in float32
  torch arithmetic, the official rule for dropping edge taps, symmetric padding, then one
  ``torch.mv`` per output row and channel, first along H, then along W. Each ``torch.mv`` is
  given what the official call gives it (a contiguous (n, taps) float32 matrix on a 64-byte
  boundary, as the official ``.contiguous()`` copy inside ``mv`` is, and a row of a contiguous
  weight matrix), because the BLAS behind ``mv`` (MKL in the CPU wheels) sums in an order that
  depends on the matrix's length, stride and alignment and on the vector's alignment: merging the
  calls into one, or handing it strided views, changes results in the last bit. So the result
  equals the official one wherever the official code runs with the same torch build (and BLAS);
  checked on the bundled images' 8 dihedral variants (``tests/data/golden``) and, once, against
  the official function on 1,642 other images (random, gradients, saturated, crops of the noisy
  images; scales 1, 2, 3, 4, 8; 1 and 2 threads), float32 results bit for bit.
"""
from __future__ import annotations

import math

import numpy as np
import torch

_KERNEL_WIDTH = 4.0  # support of the cubic kernel at scale 1
_ALIGN = 16  # float32 elements in 64 bytes, the CPU allocator's alignment of a fresh tensor


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's 'bicubic')."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


def _mirror(idx: np.ndarray, in_len: int) -> np.ndarray:
    """0-based positions (any integers) -> source indices, mirrored as MATLAB's 'symmetric' padding:
    aux = [1:in, in:-1:1] repeated, so edge pixels are repeated, not skipped."""
    period = np.mod(idx, 2 * in_len)
    return np.where(period < in_len, period, 2 * in_len - 1 - period)


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
    idx0 = _mirror(idx.astype(np.int64) - 1, in_len)
    # The spare taps get zero weight in every row; MATLAB drops such columns.
    keep = np.any(weights != 0, axis=0)
    return weights[:, keep], idx0[:, keep]


def _resize_float64(image: np.ndarray, scale: float) -> np.ndarray:
    out = image.astype(np.float64, copy=False)
    for axis in (0, 1):  # rows first, as MATLAB (equal scales) and the official port do
        weights, idx = _contributions(out.shape[axis], math.ceil(image.shape[axis] * scale), scale)
        moved = np.moveaxis(out, axis, 0)  # (in_len, ...)
        out = np.moveaxis(np.einsum("op...,op->o...", moved[idx], weights), 0, axis)
    return out


def _cubic_float32(x: torch.Tensor) -> torch.Tensor:
    """``_cubic`` as the official code writes it, in the dtype of x (the same torch operations:
    powers, products with 0/1 masks of x's dtype, in this order)."""
    ax = torch.abs(x)
    ax2 = ax**2
    ax3 = ax**3
    near = (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1).type_as(ax)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) * (ax <= 2)).type_as(ax)
    return near + far


def _contributions_float32(out_len: int, scale: float) -> tuple[torch.Tensor, list[int]]:
    """Weights (out_len, P) float32 (contiguous) and the 0-based, unmirrored input position of
    each row's first tap, computed with the official float32 torch operations.

    Differences from ``_contributions`` are the official port's: float32 throughout, and its rule
    for dropping taps (MATLAB drops every all-zero column): when the first column has a zero in
    any row, the first and the last columns are dropped; otherwise, when the last has one, the
    last two are. For integer shrink factors both edge columns are zero in every row, so both
    rules keep the same P - 2 taps.
    """
    width = _KERNEL_WIDTH / scale if scale < 1 else _KERNEL_WIDTH
    x = torch.linspace(1, out_len, out_len, dtype=torch.float32)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(u - width / 2)
    taps = math.ceil(width) + 2
    idx = left[:, None] + torch.linspace(0, taps - 1, taps, dtype=torch.float32)[None, :]
    distance = u[:, None] - idx
    weights = scale * _cubic_float32(distance * scale) if scale < 1 else _cubic_float32(distance)
    weights = weights / torch.sum(weights, 1)[:, None]
    zeros = torch.sum(weights == 0, 0)
    if zeros[0] > 0:
        keep = slice(1, taps - 1)
    elif zeros[-1] > 0:
        keep = slice(0, taps - 2)
    else:
        keep = slice(0, taps)
    first = idx[:, keep][:, 0].to(torch.int64) - 1  # MATLAB's 1-based positions -> 0-based
    return weights[:, keep].contiguous(), first.tolist()


def _resize_last_axis_float32(src: torch.Tensor, out_len: int, scale: float) -> torch.Tensor:
    """Resize (C, n, L) float32 along L, as one official pass: (C, out_len, n) float32.

    out[c, o, :] is ``torch.mv`` of the (n, P) window of symmetrically padded input under output
    o (copied contiguous, on a 64-byte boundary) with row o of the weights: the call the official
    loop makes for output o and channel c (it transposes a strided slice; ``mv`` copies that
    contiguous before calling BLAS).
    """
    channels, n, in_len = src.shape
    weights, first = _contributions_float32(out_len, scale)
    taps = weights.shape[1]
    lo, hi = min(first), max(first) + taps
    padded = src.index_select(2, torch.from_numpy(_mirror(np.arange(lo, hi), in_len)))  # (C, n, hi - lo)
    size = n * taps
    scratch = torch.empty(channels, -(-size // _ALIGN) * _ALIGN, dtype=torch.float32)
    windows = scratch[:, :size].view(channels, n, taps)  # each channel's matrix 64-byte aligned
    mats = windows.unbind(0)
    out = torch.empty(channels, out_len, n, dtype=torch.float32)
    for o, (start, w) in enumerate(zip(first, weights.unbind(0))):
        windows.copy_(padded[:, :, start - lo:start - lo + taps])
        for mat, res in zip(mats, out[:, o].unbind(0)):
            torch.mv(mat, w, out=res)
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
    return _resize_float64(image, scale)


def make_lq(clean: np.ndarray, scale: int = 4) -> np.ndarray:
    """Make the LQ image of an InvDN training pair: a MATLAB-bicubic 1/scale downscale.

    Args:
        clean: (H, W, 3) uint8 clean image in [0, 255], H and W divisible by ``scale``.
        scale: integer downscale factor (4 in InvDN).

    Returns:
        (H / scale, W / scale, 3) uint8 in [0, 255].

    Raises:
        ValueError: H or W is not divisible by scale, scale < 1, or clean is not (H, W, 3).

    The official recipe, in its float32 arithmetic: x / 255 (numpy) -> ``imresize_np(x, 1 / scale)``
    (torch; see the module docstring) -> x 255 (numpy) -> round half to even (``np.round``; the
    bundled files hold exact .5 ties, e.g. 68.5 -> 68, which half-away-from-zero gets wrong) ->
    clip -> uint8. The official code reads BGR; each channel is resized on its own, so RGB in gives
    the same values, in RGB order. Equals the official result at every value of the golden file
    (the bundled clean images in their 8 dihedral variants) and so reproduces the bundled LQ files
    (written by the official pipeline, the PaddlePaddle port that ships SIDD_mini);
    ``imresize_bicubic`` (float64) differs from them by 1 grey level at 2 of 491,520 values.
    """
    clean = np.asarray(clean)
    if clean.ndim != 3 or clean.shape[2] != 3:
        raise ValueError(f"clean must be (H, W, 3), got shape {clean.shape}")
    if scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    h, w = clean.shape[:2]
    if h % scale or w % scale:
        raise ValueError(f"image size {h}x{w} is not divisible by scale {scale}")
    x = torch.from_numpy(clean.astype(np.float32) / np.float32(255))
    # (C, W, H): H last for the H pass, whose output (C, H', W) has W last for the W pass.
    small = _resize_last_axis_float32(x.permute(2, 1, 0), h // scale, 1 / scale)
    small = _resize_last_axis_float32(small, w // scale, 1 / scale)  # (C, W', H')
    small = small.permute(2, 1, 0).numpy() * np.float32(255)
    return np.clip(np.round(small), 0, 255).astype(np.uint8)
