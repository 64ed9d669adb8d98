"""Classical denoisers (NLM, TV, wavelet, BM3D) behind the baseline interface.

Each method is blind in the same way: the noise level is estimated per image with
``skimage.restoration.estimate_sigma`` (the wavelet median-absolute-deviation estimator of
Donoho & Johnstone, Biometrika 1994, on the finest diagonal sub-band), averaged over the three
channels, and then sets that method's strength. Images are processed one at a time as float64
(H, W, 3) arrays; outputs are not clamped (the evaluation protocol clamps).

BM3D comes from the ``bm3d`` package (Mäkinen, Azzari & Foi), whose licence allows
non-commercial use only, so it is an optional dependency imported lazily.
"""
from __future__ import annotations

from importlib import import_module
from importlib.metadata import version

import numpy as np
import torch
from skimage import restoration

SIGMA_RULE = "skimage.restoration.estimate_sigma per image (channel_axis=-1), averaged over channels"
# Below this (in [0, 1] units, far under one 8-bit level of 1/255) an image is treated as noise-free
# and returned unchanged: TV divides by its weight and BM3D's colour transform divides by the image
# range, so both fail on a constant image.
NO_NOISE = 1e-6
BM3D_HINT = (
    "BM3D needs the optional 'bm3d' package (licence: non-commercial use only): "
    "pip install bm3d, or pip install -e '.[bm3d]'"
)
PYWAVELETS_HINT = "the wavelet baseline needs PyWavelets: pip install PyWavelets"


def _require(module: str, hint: str):
    """Import ``module`` or raise an ImportError saying how to install it."""
    try:
        return import_module(module)
    except ImportError as err:
        raise ImportError(hint) from err


def bm3d_available() -> bool:
    """Whether the optional ``bm3d`` package can be imported."""
    try:
        import_module("bm3d")
    except ImportError:
        return False
    return True


def _to_hwc(noisy: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) float tensor -> (N, H, W, 3) float64 array; ValueError on another shape."""
    if noisy.ndim != 4 or noisy.shape[1] != 3 or not noisy.is_floating_point():
        raise ValueError(f"expected a (N, 3, H, W) float tensor, got {tuple(noisy.shape)} {noisy.dtype}")
    return noisy.detach().cpu().to(torch.float64).permute(0, 2, 3, 1).numpy()


def _estimate(image: np.ndarray) -> float:
    return float(restoration.estimate_sigma(image, channel_axis=-1, average_sigmas=True))


class ClassicalDenoiser:
    """Shared per-image loop; a subclass sets ``name``, ``label``, ``library``, ``parameters()``
    and ``denoise_image(image, sigma)``."""

    name: str
    label: str
    library = "scikit-image"
    num_parameters = 0

    def parameters(self) -> dict:
        raise NotImplementedError

    def denoise_image(self, image: np.ndarray, sigma: float) -> np.ndarray:
        """(H, W, 3) float64 in [0, 1] and its estimated noise std -> (H, W, 3) float64."""
        raise NotImplementedError

    def settings(self) -> dict:
        return {"library": self.library, "version": version(self.library), "sigma_rule": SIGMA_RULE,
                **self.parameters()}

    def estimate_sigma(self, noisy: torch.Tensor) -> list[float]:
        """(N, 3, H, W) float in [0, 1] -> N noise std estimates in [0, 1] units (for logging)."""
        return [_estimate(image) for image in _to_hwc(noisy)]

    def denoise(self, noisy: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) float in [0, 1] -> (N, 3, H, W), same dtype and device, not clamped.

        Deterministic. Raises ValueError on another shape.
        """
        out = []
        for image in _to_hwc(noisy):
            sigma = _estimate(image)
            out.append(image if sigma <= NO_NOISE else self.denoise_image(image, sigma))
        result = torch.from_numpy(np.stack(out).transpose(0, 3, 1, 2).copy())
        return result.to(dtype=noisy.dtype, device=noisy.device)


class NonLocalMeans(ClassicalDenoiser):
    """Non-local means (Buades et al., CVPR 2005), ``skimage.restoration.denoise_nl_means``.

    ``sigma`` = the estimate (subtracted from patch distances) and h = 0.8 * sigma, the value the
    scikit-image NLM gallery example recommends with ``fast_mode=True``; 5x5 patches searched
    within 6 pixels (13x13 window), as in that example.
    """

    name = "nlm"
    label = "NLM"

    def __init__(self, h_factor: float = 0.8, patch_size: int = 5, patch_distance: int = 6):
        self.h_factor, self.patch_size, self.patch_distance = h_factor, patch_size, patch_distance

    def parameters(self) -> dict:
        return {"h": f"{self.h_factor} * sigma", "patch_size": self.patch_size,
                "patch_distance": self.patch_distance, "fast_mode": True}

    def denoise_image(self, image: np.ndarray, sigma: float) -> np.ndarray:
        return restoration.denoise_nl_means(
            image, h=self.h_factor * sigma, sigma=sigma, patch_size=self.patch_size,
            patch_distance=self.patch_distance, fast_mode=True, channel_axis=-1)


class TotalVariation(ClassicalDenoiser):
    """Total-variation (ROF) denoising with Chambolle's algorithm, ``denoise_tv_chambolle``.

    skimage minimises TV(u) + 1/(2 weight) ||u - f||^2. Scaling image and noise by c scales the
    best weight by c (TV is linear in intensity, the fidelity term quadratic), so the weight is
    taken proportional to the estimated sigma: weight = 0.6 * sigma. 0.6 was chosen by a small
    sweep (factors 0.25-3) on 256x256 crops of skimage's bundled astronaut/coffee/chelsea images
    with AWGN of std 0.02-0.1: within about 0.3 dB PSNR of the best factor from 0.02 to 0.07 (the
    range of real sRGB camera noise), 0.6 dB at 0.1. It was not tuned on SIDD or DND.
    """

    name = "tv"
    label = "TV (Chambolle)"

    def __init__(self, weight_factor: float = 0.6):
        self.weight_factor = weight_factor

    def parameters(self) -> dict:
        return {"weight": f"{self.weight_factor} * sigma", "eps": 2e-4, "max_num_iter": 200}

    def denoise_image(self, image: np.ndarray, sigma: float) -> np.ndarray:
        return restoration.denoise_tv_chambolle(image, weight=self.weight_factor * sigma, channel_axis=-1)


class Wavelet(ClassicalDenoiser):
    """BayesShrink soft wavelet thresholding (Chang, Yu & Vetterli, IEEE TIP 2000) in YCbCr,
    ``skimage.restoration.denoise_wavelet`` with sigma = the estimate (rescaled to YCbCr by
    skimage, ``rescale_sigma=True``), Daubechies-1 wavelet, default number of levels.

    Raises ImportError on construction when PyWavelets is missing.
    """

    name = "wavelet"
    label = "Wavelet (BayesShrink)"

    def __init__(self):
        _require("pywt", PYWAVELETS_HINT)

    def parameters(self) -> dict:
        return {"method": "BayesShrink", "mode": "soft", "wavelet": "db1", "convert2ycbcr": True,
                "rescale_sigma": True, "sigma": "estimate", "pywavelets": version("PyWavelets")}

    def denoise_image(self, image: np.ndarray, sigma: float) -> np.ndarray:
        return restoration.denoise_wavelet(
            image, sigma=sigma, method="BayesShrink", mode="soft", convert2ycbcr=True,
            rescale_sigma=True, channel_axis=-1)


class BM3D(ClassicalDenoiser):
    """Colour BM3D (Dabov et al., IEEE TIP 2007), ``bm3d.bm3d_rgb`` with ``sigma_psd`` = the
    estimate and the package defaults (profile 'np', opponent colour space), except that it runs
    single-threaded by default: the package's profile notes that with several threads the
    aggregation order, hence the float32 result, varies between runs (by ~1e-7 here).

    The colour transform divides by each opponent channel's range, so an input whose channels
    are exactly equal (grey, noise identical in R, G, B) gives NaN.

    Raises:
        ImportError: on construction, when the optional ``bm3d`` package is missing.
    """

    name = "bm3d"
    label = "BM3D"
    library = "bm3d"

    def __init__(self, num_threads: int = 1):
        self._bm3d = _require("bm3d", BM3D_HINT)
        self._profile = self._bm3d.BM3DProfile()  # the 'np' profile
        self._profile.num_threads = num_threads

    def parameters(self) -> dict:
        return {"profile": "np", "colorspace": "opp", "sigma_psd": "estimate",
                "num_threads": self._profile.num_threads, "licence": "bm3d package: non-commercial use only",
                "sigma_estimator": f"scikit-image {version('scikit-image')}"}

    def denoise_image(self, image: np.ndarray, sigma: float) -> np.ndarray:
        return self._bm3d.bm3d_rgb(image, sigma_psd=sigma, profile=self._profile)
