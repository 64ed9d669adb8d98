"""AKLD: average Kullback-Leibler divergence between generated and real noise.

The metric of DANet (Yue et al., "Dual Adversarial Network: Toward Real-world Noise Removal and Noise
Generation", ECCV 2020, noise-generation experiments; code: github.com/zsyOAOA/DANet, ``demo_AKLD.py`` with
``kl_gauss_zero_center`` and ``estimate_sigma_gauss`` in ``utils.py``, ``get_gausskernel`` and
``gaussblur`` in ``loss.py``), the metric PNGAN (Cai et al., "Learning to Generate Realistic Noisy Images
via Pixel-level Noise-aware Adversarial Training", NeurIPS 2021) adopts to compare noise generators. This
module follows DANet's code; PNGAN's public code holds no AKLD implementation to compare with.

For one clean image x, its real noisy image y and one generated noisy image g (all (C, H, W) in [0, 1]):

1. Per-pixel noise variances, each squared residual blurred per channel with a 7x7 Gaussian:
   ``var_fake = blur((g - x)**2)``, ``var_real = blur((y - x)**2)``, both clamped at min 1e-10.
   The blur pads by 3 pixels with PyTorch ``F.pad(..., mode='reflect')`` (the edge pixel is not
   repeated: numpy ``'reflect'``, OpenCV ``BORDER_REFLECT_101``) and convolves with no further padding,
   as DANet's ``gaussblur`` does, so the map keeps the image size.
2. The kernel is ``outer(k, k)`` with ``k = cv2.getGaussianKernel(7, -1)``. For odd sizes up to 7 and a
   non-positive sigma OpenCV does not sample a Gaussian: it returns the fixed binomial-like table
   ``k = [1, 3.5, 7, 9, 7, 3.5, 1] / 32`` (OpenCV ``smooth.dispatch.cpp``, ``getGaussianKernelBitExact``).
   The sampled Gaussian of the sigma OpenCV would otherwise use (``0.3 * ((7 - 1) / 2 - 1) + 0.8 = 1.4``)
   differs from it by up to about 4e-3 per 2-D tap, so it is not used here.
3. ``r = var_fake / var_real`` clamped to [0.1, 10], and
   ``KL = 0.5 * mean(log(1 / r) + r - 1)`` over all channels and pixels. Per pixel this is the closed form of
   ``KL(N(0, var_fake) || N(0, var_real))``: the divergence of the *generated* noise distribution from
   the *real* one, ``0.5 * (log(var_real / var_fake) + var_fake / var_real - 1)``.
4. AKLD: KL averaged over the L generated samples of each image (DANet's ``demo_AKLD.py``: L = 50), then
   over the images of the test set. Lower is better; 0 when the generated noise equals the real noise.

Differences from DANet's code, none of which changes the definition: everything is computed in float64
(DANet: float32; its kernel taps are dyadic fractions, exact in both), the 7x7 blur runs as its two 1-D
passes (the same filter), and images and samples are processed in chunks so memory stays bounded for
L = 50 and 256x256 images.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from invdn.data.io import ImageError, read_rgb, uint8_to_float

# cv2.getGaussianKernel(7, -1): OpenCV's fixed table for ksize 7 (not a sampled Gaussian; see module doc).
_KERNEL_1D = (0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125)
_PAD = 3  # (7 - 1) // 2: DANet's gaussblur pads by (p - 1) / 2 on every side
VAR_FLOOR = 1e-10
RATIO_MIN, RATIO_MAX = 0.1, 10.0


def gaussian_kernel_7x7() -> torch.Tensor:
    """(7, 7) float64 kernel of DANet's variance estimate: ``outer(k, k)`` with k OpenCV's
    ``getGaussianKernel(7, -1)`` table ``[1, 3.5, 7, 9, 7, 3.5, 1] / 32``; sums to exactly 1.

    Not the sampled sigma-1.4 Gaussian (see the module docstring).
    """
    k = torch.tensor(_KERNEL_1D, dtype=torch.float64)
    return torch.outer(k, k)


def noise_variance(noisy: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Local noise variance map of DANet (``estimate_sigma_gauss``), in float64.

    Args:
        noisy, clean: (N, C, H, W) float tensors of the same shape and device, H and W at least 4.

    Returns:
        (N, C, H, W) float64: ``blur((noisy - clean)**2)`` per channel (7x7 kernel of
        :func:`gaussian_kernel_7x7`, applied as its two 1-D factors; reflect padding of 3), clamped at
        min 1e-10.
    """
    err2 = (noisy.to(torch.float64) - clean.to(torch.float64)) ** 2
    c = err2.shape[1]
    k = torch.tensor(_KERNEL_1D, dtype=torch.float64, device=err2.device)
    padded = F.pad(err2, (_PAD, _PAD, _PAD, _PAD), mode="reflect")
    # The 2-D kernel is outer(k, k): a column then a row pass is the same filter, about 10x faster on CPU.
    blurred = F.conv2d(padded, k.view(1, 1, 7, 1).expand(c, 1, 7, 1), groups=c)
    blurred = F.conv2d(blurred, k.view(1, 1, 1, 7).expand(c, 1, 1, 7), groups=c)
    return blurred.clamp_(min=VAR_FLOOR)


def kl_zero_mean_gauss(var_fake: torch.Tensor, var_real: torch.Tensor) -> torch.Tensor:
    """Per-image ``KL(N(0, var_fake) || N(0, var_real))`` with DANet's ratio clamp.

    Args:
        var_fake, var_real: (N, C, H, W) positive variance maps (from :func:`noise_variance`).

    Returns:
        (N,) tensor: ``0.5 * mean(log(1/r) + r - 1)`` over (C, H, W), ``r = clamp(var_fake / var_real,
        0.1, 10)``; each pixel's term is therefore at most ``0.5 * (9 - log 10)`` (r = 10).
    """
    r = (var_fake / var_real).clamp_(RATIO_MIN, RATIO_MAX)
    return 0.5 * (r - 1 - torch.log(r)).mean(dim=(1, 2, 3))


def _as_tensor(x, name: str) -> torch.Tensor:
    t = torch.from_numpy(x) if isinstance(x, np.ndarray) else x
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"akld: {name} must be a tensor or array, got {type(x).__name__}")
    if not t.is_floating_point():
        raise ValueError(
            f"akld: {name} must be a float tensor in [0, 1], got dtype {t.dtype}; "
            "convert uint8 images with invdn.data.uint8_to_float"
        )
    return t.detach()


def _check_range(x: torch.Tensor, name: str) -> None:
    if not bool(((x >= 0) & (x <= 1)).all()):
        raise ValueError(
            f"akld: {name} has values outside [0, 1] (min {x.min().item():g}, max {x.max().item():g}) "
            "or NaN; pass images scaled to [0, 1] (generated images clamped, as DANet does)"
        )


def _validate(generated, noisy, clean) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g, y, x = _as_tensor(generated, "generated"), _as_tensor(noisy, "noisy"), _as_tensor(clean, "clean")
    if y.ndim != 4 or y.shape != x.shape:
        raise ValueError(
            f"akld: noisy and clean must both be (N, C, H, W) of the same shape, got noisy "
            f"{tuple(y.shape)} and clean {tuple(x.shape)}"
        )
    if g.ndim != 5 or g.shape[1:] != y.shape:
        raise ValueError(
            f"akld: generated must be (L, N, C, H, W) with (N, C, H, W) = noisy's {tuple(y.shape)}, "
            f"got generated {tuple(g.shape)}"
        )
    if g.shape[0] == 0 or g.shape[1] == 0:
        raise ValueError(f"akld: need at least one image and one sample, got generated {tuple(g.shape)}")
    if min(y.shape[-2:]) <= _PAD:
        raise ValueError(f"akld: images must be at least 4x4 (reflect padding of 3), got {tuple(y.shape[-2:])}")
    return g, y, x


def akld_per_image(generated, noisy, clean, *, batch: int = 8) -> torch.Tensor:
    """KL of each image's generated noise from its real noise, averaged over the L samples.

    Args:
        generated: (L, N, C, H, W) float tensor (or array) in [0, 1]: L generated noisy images for each of
            the N clean images (C = 3, RGB, in the protocol). Expected already clamped to [0, 1] and
            not quantised; no clamping or quantisation is applied here (DANet clamps its samples to
            [0, 1] before scoring; PNGs read by :func:`load_generated_folder` are quantised to 8 bits).
        noisy: (N, C, H, W) real noisy images in [0, 1]. clean: (N, C, H, W) clean images in [0, 1].
        batch: images processed at once; memory is O(batch * C * H * W) float64 whatever L is.

    Returns:
        (N,) float64 tensor (on generated's device): ``mean_l KL(generated[l, n], noisy[n], clean[n])``.

    Raises:
        ValueError: shapes that do not match (the message names them), non-float dtypes, images
            smaller than 4x4, values outside [0, 1] or NaN.
    """
    g, y, x = _validate(generated, noisy, clean)
    if batch < 1:
        raise ValueError(f"akld: batch must be >= 1, got {batch}")
    device = g.device
    n_samples, n_images = g.shape[:2]
    out = torch.zeros(n_images, dtype=torch.float64, device=device)
    for i in range(0, n_images, batch):
        y_c = y[i : i + batch].to(device=device, dtype=torch.float64)
        x_c = x[i : i + batch].to(device=device, dtype=torch.float64)
        _check_range(y_c, "noisy")
        _check_range(x_c, "clean")
        var_real = noise_variance(y_c, x_c)
        for k in range(n_samples):
            g_c = g[k, i : i + batch].to(dtype=torch.float64)
            _check_range(g_c, "generated")
            out[i : i + batch] += kl_zero_mean_gauss(noise_variance(g_c, x_c), var_real)
    return out / n_samples


def akld(generated, noisy, clean, *, batch: int = 8) -> float:
    """AKLD of a noise generator: per-image KL averaged over L samples, then over the N images.

    Args and raised errors as :func:`akld_per_image` (generated (L, N, C, H, W), noisy and clean
    (N, C, H, W), floats in [0, 1]).

    Returns:
        ``akld_per_image(...).mean()`` as a float, in nats; 0 when every generated image equals its real
        noisy image, lower is better.
    """
    return akld_per_image(generated, noisy, clean, batch=batch).mean().item()


akld.better = "lower"


def load_generated_folder(folder: str | os.PathLike, names: Sequence[str], samples: int) -> torch.Tensor:
    """Read generated noisy PNGs written as ``invdn generate-noise`` names them, for :func:`akld`.

    Also the way to score generators whose images were published but whose code was not: put their
    images in one folder under these names.

    Args:
        folder: the folder holding ``<name>_<k:02d>.png`` for k = 0 .. samples-1, or ``<name>.png`` when
            samples is 1.
        names: image stems (no suffix), in the order of the noisy/clean tensors they are scored against.
        samples: L, the number of generated images per name.

    Returns:
        (samples, len(names), 3, H, W) float32 in [0, 1] (8-bit quantised, as read). Memory is
        4 * L * N * 3 * H * W bytes: about 39 MB per 256x256 image at L = 50.

    Raises:
        ImageError: a file is missing (the message names it and how many others are missing), unreadable,
            not 8-bit RGB, or of a different size than the first image.
        ValueError: samples < 1 or no names.
    """
    if samples < 1:
        raise ValueError(f"load_generated_folder: samples must be >= 1, got {samples}")
    if len(names) == 0:
        raise ValueError("load_generated_folder: no image names given")
    folder = Path(folder)

    def path(name: str, k: int) -> Path:
        return folder / (f"{name}.png" if samples == 1 else f"{name}_{k:02d}.png")

    paths = [[path(name, k) for name in names] for k in range(samples)]
    missing = [p for row in paths for p in row if not p.is_file()]
    if missing:
        pattern = "<name>.png" if samples == 1 else f"<name>_<k:02d>.png for k = 0..{samples - 1}"
        raise ImageError(
            f"{missing[0]}: generated image not found ({len(missing)} of {samples * len(names)} files "
            f"missing in {folder}); expected {pattern}, as `invdn generate-noise --samples {samples}` writes"
        )
    out = None
    for k, row in enumerate(paths):
        for n, p in enumerate(row):
            img = uint8_to_float(read_rgb(p))
            if out is None:
                out = torch.empty((samples, len(names), *img.shape), dtype=torch.float32)
            elif img.shape != out.shape[2:]:
                raise ImageError(
                    f"{p}: image is {img.shape[2]}x{img.shape[1]}, but {paths[0][0]} is "
                    f"{out.shape[4]}x{out.shape[3]}; all generated images must have their clean image's size"
                )
            out[k, n] = img
    return out
