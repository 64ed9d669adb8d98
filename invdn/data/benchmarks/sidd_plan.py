"""SIDD-Medium's sRGB pairs and the deterministic plan of the patches cut from them.

Source layout (SIDD website, "SIDD-Medium Dataset", sRGB part; A. Abdelhamed, S. Lin, M. S. Brown,
*A High-Quality Denoising Dataset for Smartphone Cameras*, CVPR 2018)::

    SIDD_Medium_Srgb/Data/                          <- ``root``
        0001_001_S6_00100_00060_3200_L/             one folder per scene instance (160 in all)
            0001_GT_SRGB_010.PNG   0001_NOISY_SRGB_010.PNG    two noisy/clean pairs each,
            0001_GT_SRGB_011.PNG   0001_NOISY_SRGB_011.PNG    8-bit RGB, about 5000x3000

The plan (``plan_crops``) is a list of boxes, random or on a grid, a function of the settings and
of each image's name and size only; ``invdn.data.benchmarks.sidd`` cuts the patches it names.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from invdn.data.io import ImageError
from invdn.data.pairs import DataLayoutError

_EXPECTED = (
    "expected ROOT/<scene instance>/<scene>_NOISY_SRGB_<010|011>.PNG with "
    "<scene>_GT_SRGB_<010|011>.PNG beside it, e.g. SIDD_Medium_Srgb/Data/"
    "0001_001_S6_00100_00060_3200_L/0001_NOISY_SRGB_010.PNG (pass the Data folder as ROOT)"
)
_SRGB_FILE = re.compile(r"^(?P<scene>.+)_(?P<kind>GT|NOISY)_SRGB_(?P<index>\d{3})\.png$", re.IGNORECASE)


@dataclass(frozen=True)
class SiddImage:
    """One SIDD-Medium noisy/clean sRGB pair.

    ``instance`` is the scene-instance folder name, ``index`` the capture index ("010" or "011"),
    ``noisy`` / ``clean`` the two PNG paths (``*_NOISY_SRGB_<index>.PNG``, ``*_GT_SRGB_<index>.PNG``).
    """

    instance: str
    index: str
    noisy: Path
    clean: Path

    @property
    def name(self) -> str:
        """``<instance>_<index>``, unique in the dataset; the prefix of its patch names."""
        return f"{self.instance}_{self.index}"


@dataclass(frozen=True)
class Crop:
    """One planned patch: ``box`` = (top, left, height, width) in pixels of ``image``; ``k`` its number."""

    image: SiddImage
    k: int
    box: tuple[int, int, int, int]

    @property
    def name(self) -> str:
        """Output file stem ``<instance>_<index>_<k:03d>`` (more digits past k = 999)."""
        return f"{self.image.name}_{self.k:03d}"



# --------------------------------------------------------------------------------------- discovery

def find_sidd_medium(root: str | os.PathLike) -> list[SiddImage]:
    """List the noisy/clean sRGB pairs of SIDD-Medium under ``root`` (its ``Data`` folder).

    Every non-hidden sub-folder of ``root`` is a scene instance and must hold at least one pair
    ``<scene>_NOISY_SRGB_<idx>.PNG`` / ``<scene>_GT_SRGB_<idx>.PNG`` (idx three digits; the file
    name is matched case-insensitively, so ``.png`` is accepted). Other files are ignored.

    Returns:
        SiddImage list sorted by (instance folder name, index); 320 for the full dataset.

    Raises:
        DataLayoutError: ``root`` missing, no instance folders in it, an instance folder without
            any sRGB pair, a NOISY file without its GT partner or vice versa, or two files of
            one kind and index in a folder. All problems found are listed, each naming the
            folder or file and the expected layout.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataLayoutError(f"{root}: SIDD-Medium folder not found; {_EXPECTED}")
    instances = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not instances:
        raise DataLayoutError(f"{root}: no scene-instance folders found; {_EXPECTED}")
    images, problems = [], []
    for folder in instances:
        found: dict[str, dict[str, Path]] = {}
        for p in sorted(folder.iterdir()):
            m = _SRGB_FILE.match(p.name)
            if m is None or p.name.startswith(".") or not p.is_file():
                continue
            slot, kind = found.setdefault(m["index"], {}), m["kind"].upper()
            if kind in slot:
                problems.append(f"{folder}: two {kind} files with index {m['index']} "
                                f"({slot[kind].name}, {p.name}); keep one")
            slot[kind] = p
        if not found:
            hint = (" (it holds folders: is ROOT one level too high?)"
                    if any(q.is_dir() for q in folder.iterdir()) else "")
            problems.append(f"{folder}: no sRGB image pairs in this scene-instance folder{hint}")
        for index, slot in sorted(found.items()):
            if "GT" not in slot:
                problems.append(f"{slot['NOISY']} has no partner {folder / f'*_GT_SRGB_{index}.PNG'}")
            elif "NOISY" not in slot:
                problems.append(f"{slot['GT']} has no partner {folder / f'*_NOISY_SRGB_{index}.PNG'}")
            else:
                images.append(SiddImage(folder.name, index, slot["NOISY"], slot["GT"]))
    if problems:
        raise DataLayoutError("SIDD-Medium layout problems:\n  " + "\n  ".join(problems) + f"\n{_EXPECTED}")
    return images


def _header(path: Path) -> tuple[int, int]:
    """(height, width) from the image header only (no pixel decoding); RGB required."""
    try:
        with Image.open(path) as im:
            width, height = im.size
            mode = im.mode
    except FileNotFoundError:
        raise ImageError(f"{path}: file not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise ImageError(f"{path}: not a readable image ({e}); copy or download it again") from None
    if mode != "RGB":
        raise ImageError(f"{path}: expected an 8-bit RGB image, found mode {mode!r}")
    return height, width


def image_sizes(images: Sequence[SiddImage]) -> dict[str, tuple[int, int]]:
    """(height, width) of each pair, keyed by ``SiddImage.name``, from the PNG headers only.

    Raises:
        ImageError: a file cannot be opened or is not RGB (names the file).
        DataLayoutError: the noisy and clean images of a pair differ in size (names both).
    """
    sizes = {}
    for image in images:
        noisy, clean = _header(image.noisy), _header(image.clean)
        if noisy != clean:
            raise DataLayoutError(
                f"{image.noisy} is {noisy[0]}x{noisy[1]} but its partner {image.clean} is "
                f"{clean[0]}x{clean[1]} (height x width); a pair must have one size"
            )
        sizes[image.name] = noisy
    return sizes


# --------------------------------------------------------------------------------------- crop plan

def image_seed(seed: int, name: str) -> np.random.SeedSequence:
    """SeedSequence([seed, w0, w1, w2, w3]), w = the first 16 bytes of sha256(name) as 4 little-endian uint32.

    A stable per-image key rather than the image's list position: a position would shift when an
    instance is added or removed and change every later image's crops.
    """
    words = np.frombuffer(hashlib.sha256(name.encode("utf-8")).digest()[:16], dtype="<u4")
    return np.random.SeedSequence([seed, *(int(w) for w in words)])


def _grid_starts(length: int, patch: int, stride: int) -> list[int]:
    starts = list(range(0, length - patch + 1, stride))
    if starts[-1] != length - patch:
        starts.append(length - patch)  # a last tile flush with the border, so every pixel is covered
    return starts


def plan_crops(
    images: Sequence[SiddImage],
    sizes: dict[str, tuple[int, int]],
    patch: int = 512,
    per_image: int = 100,
    seed: int = 0,
    stride: int | None = None,
) -> list[Crop]:
    """Deterministic patch boxes for ``images``, in image order then k.

    Args:
        images: from ``find_sidd_medium``.
        sizes: (height, width) per ``SiddImage.name`` (``image_sizes``).
        patch: square patch side in pixels.
        per_image: random mode: crops per image (ignored in grid mode).
        seed: random mode: non-negative int. Image ``name`` draws from
            ``Generator(PCG64(image_seed(seed, name)))``: ``per_image`` tops uniform in
            [0, H - patch], then ``per_image`` lefts uniform in [0, W - patch]. Each image's
            crops depend only on (seed, its name, its size), not on the other images. Two draws
            may coincide (sampling with replacement, as random cropping does).
        stride: grid mode when given: tops (and lefts) 0, stride, 2 stride, ... <= H - patch,
            plus a last one at H - patch when that is not already reached, so no border strip is
            left out (the last row/column overlaps its neighbour more); with stride <= patch the
            tiles cover every pixel. (ceil((H - patch) / stride) + 1) rows of tiles. Raster order.

    Returns:
        Crop list; boxes (top, left, patch, patch) lie inside their image.

    Raises:
        ValueError: patch, per_image or stride < 1, seed < 0, or an image missing from ``sizes``.
        DataLayoutError: an image smaller than the patch (names the file).
    """
    if patch < 1 or (stride is None and per_image < 1) or (stride is not None and stride < 1):
        raise ValueError(f"patch, per_image and stride must be >= 1, got {patch}, {per_image}, {stride}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    crops = []
    for image in images:
        if image.name not in sizes:
            raise ValueError(f"no size given for {image.name} ({image.noisy}); use image_sizes(images)")
        height, width = sizes[image.name]
        if height < patch or width < patch:
            raise DataLayoutError(f"{image.noisy}: {height}x{width} image is smaller than the {patch}x{patch} patch")
        if stride is None:
            rng = np.random.Generator(np.random.PCG64(image_seed(seed, image.name)))
            tops = rng.integers(0, height - patch + 1, size=per_image).tolist()
            lefts = rng.integers(0, width - patch + 1, size=per_image).tolist()
            corners = list(zip(tops, lefts))
        else:
            corners = [(t, l) for t in _grid_starts(height, patch, stride) for l in _grid_starts(width, patch, stride)]
        crops += [Crop(image, k, (t, l, patch, patch)) for k, (t, l) in enumerate(corners)]
    return crops
