"""Reading and writing RGB images, with errors that name the file and the fix.

Conversions are named by the transition they make: ``uint8_to_float`` (H, W, 3) uint8 -> (3, H, W)
float32 in [0, 1]; ``float_to_uint8`` the canonical quantisation (clamp to [0, 1], x255, round).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from invdn.atomic import write_atomic

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


class ImageError(ValueError):
    """An image file that cannot be used: the message names the file, what was found and the fix."""


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """Read an 8-bit RGB image as (H, W, 3) uint8.

    Raises:
        ImageError: the file is missing, truncated or not an image, or is not 8-bit RGB
            (grayscale, 16-bit, palette and translucent RGBA images are refused, not silently
            converted). An RGBA image whose alpha is 255 everywhere (a common PNG export) is read
            as its RGB, with a warning.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: file not found")
    try:
        with Image.open(path) as im:
            mode = im.mode
            im.load()  # decode fully now: a truncated file fails here, not later in a worker
            arr = np.asarray(im)
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not a readable image file (expected an 8-bit RGB PNG)") from None
    except (OSError, SyntaxError) as e:
        raise ImageError(
            f"{path}: the image could not be decoded ({e}); the file is probably truncated or "
            "corrupt: copy or download it again"
        ) from None
    if mode == "RGBA" and arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 4:
        alpha = arr[..., 3]
        if alpha.min() < 255:
            raise ImageError(
                f"{path}: an RGBA image with transparent pixels ({int((alpha < 255).sum())} with alpha < 255, "
                f"lowest {int(alpha.min())}); a denoiser needs the camera's RGB: flatten it onto its background "
                "or export it as RGB"
            )
        warnings.warn(f"{path}: RGBA with a fully opaque alpha channel; its RGB channels are used", stacklevel=2)
        return np.ascontiguousarray(arr[..., :3])
    if mode != "RGB" or arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ImageError(
            f"{path}: expected an 8-bit RGB image, found mode {mode!r} with shape {arr.shape}; "
            "convert it to RGB first (e.g. PIL: Image.open(p).convert('RGB').save(p))"
        )
    return arr


def write_rgb(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write (H, W, 3) uint8 as PNG atomically (a temporary file renamed into place)."""
    path = Path(path)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"write_rgb expects (H, W, 3) uint8, got {image.dtype} {image.shape}")
    write_atomic(path, lambda tmp: Image.fromarray(image).save(tmp, format="PNG"))


def uint8_to_float(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float().div_(255.0)


def float_to_uint8(image: torch.Tensor) -> torch.Tensor:
    """Canonical quantisation: clamp to [0, 1], x255, round half to even; same shape, uint8."""
    return image.detach().clamp(0, 1).mul(255.0).round().to(torch.uint8)


def chw_uint8_to_hwc(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) uint8 tensor -> (H, W, 3) uint8 array for writing."""
    return image.permute(1, 2, 0).contiguous().cpu().numpy()
