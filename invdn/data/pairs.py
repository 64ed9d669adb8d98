"""Finding noisy/clean(/lq) image pairs in the bundled folder layout.

Layout (the bundled SIDD patches and PaddleGAN's InvDN data)::

    DIR/Noisy/<name>.PNG   noisy input
    DIR/GT/<name>.PNG      clean ground truth, same size
    DIR/LQ/<name>.PNG      (training only) the clean image bicubic-downscaled by 4

Files are matched by name; the suffix is case-insensitive.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from invdn.data.io import IMAGE_SUFFIXES

NOISY, CLEAN, LQ = "Noisy", "GT", "LQ"


class DataLayoutError(ValueError):
    """The data folder does not have the expected layout; the message says what to fix."""


@dataclass(frozen=True)
class ImagePair:
    name: str
    noisy: Path
    clean: Path
    lq: Path | None = None


@dataclass(frozen=True, eq=False)
class ArrayPair:
    """A pair held in memory (e.g. one SIDD block of a .mat file): (H, W, 3) uint8 arrays.

    ``source`` names where it came from (file and position) for error messages.
    """

    name: str
    noisy_array: object
    clean_array: object
    source: str = ""
    lq = None


def _images(folder: Path) -> dict[str, Path]:
    return {
        p.stem: p
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    }


def find_pairs(root: str | os.PathLike, require_lq: bool = False) -> list[ImagePair]:
    """List the pairs under ``root``, sorted by name.

    Raises:
        DataLayoutError: ``root`` or one of its ``Noisy``/``GT`` (and ``LQ`` when required)
            folders is missing or empty, or an image has no partner of the same name.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataLayoutError(f"{root}: data folder not found (expected {NOISY}/ and {CLEAN}/ inside)")
    wanted = [NOISY, CLEAN] + ([LQ] if require_lq else [])
    found = {}
    for sub in wanted:
        folder = root / sub
        if not folder.is_dir():
            extra = (
                "; LQ holds the clean patches downscaled x4 (MATLAB bicubic) for the forward loss"
                if sub == LQ
                else ""
            )
            raise DataLayoutError(f"{folder}: folder not found; expected {'/, '.join(wanted)}/ under {root}{extra}")
        found[sub] = _images(folder)
        if not found[sub]:
            raise DataLayoutError(f"{folder}: no images found (expected PNG files named as in {NOISY}/)")
    names = set(found[NOISY])
    problems = []
    for sub in wanted[1:]:
        for name in sorted(names - set(found[sub])):
            problems.append(f"{found[NOISY][name]} has no partner {root / sub / (name + '.*')}")
        for name in sorted(set(found[sub]) - names):
            problems.append(f"{found[sub][name]} has no partner {root / NOISY / (name + '.*')}")
    if problems:
        raise DataLayoutError("unmatched images:\n  " + "\n  ".join(problems))
    return [
        ImagePair(n, found[NOISY][n], found[CLEAN][n], found[LQ][n] if require_lq else None)
        for n in sorted(names)
    ]
