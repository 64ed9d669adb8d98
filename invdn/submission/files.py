"""Writing benchmark submissions: SIDD's ``SubmitSrgb.mat`` and DND's bundled ``.mat`` files.

Every writer validates its whole input before the first byte is written and writes atomically
(:func:`invdn.atomic.write_atomic`), so a failed call leaves no file behind and a reader never sees
half a submission.

SIDD sRGB benchmark (Abdelhamed, Lin & Brown, CVPR 2018; the benchmark's MATLAB kit):
``DenoiseSrgb.m`` builds ``DenoisedBlocksSrgb = cell(nImages, nBlocks)`` (40 x 32), one denoised
256 x 256 x 3 block per cell, and ``TimeMP = TimeMP * 1024 * 1024 / (nImages * nBlocks * 256 *
256)`` (seconds per megapixel, 1 MP = 2^20 pixels); ``Demo_SIDD.m`` fills ``OptionalData`` with
``MethodName``, ``Authors``, ``PaperTitle``, ``Venue`` and ``MachineSpecs`` ("you may add more
optional data as needed"); ``SIDD_Denoise.m`` saves ``DenoisedBlocksSrgb``, ``TimeMPSrgb`` and
``OptionalData`` to ``SubmitSrgb.mat``. The kit saves with ``-v7.3``; scipy writes v5, which
MATLAB's ``load`` reads the same way. Blocks are written as uint8 (the dtype of the noisy and
ground-truth blocks files). InvDN's own ``codes/test_Real.py`` instead writes ``DenoisedBlocksSrgb`` as one
numeric uint8 (40, 32, 256, 256, 3) array (``np.empty_like(imgArray)``) and ``TimeMPSrgb`` 0.0,
without ``OptionalData``; ``numeric_array=True`` reproduces that layout.

DND sRGB benchmark (Plötz & Roth, CVPR 2017; kit ``dnd_denoise.py`` / ``bundle_submissions.py``):
one ``%04d_%02d.mat`` per crop (image 1..50, box 1..20, 1-based) holding ``Idenoised_crop``
(512 x 512 x 3 single in [0, 1]); ``bundle_submissions_srgb`` then writes ``bundled/%04d.mat``
with ``Idenoised`` = ``np.zeros((20,), dtype=object)`` filled with the 20 crops, ``israw`` False
and ``eval_version`` "1.0"; the content of ``bundled/`` is what is uploaded.
"""
from __future__ import annotations

import math
import os
import re
import zipfile
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import scipy.io

from invdn.atomic import write_atomic
from invdn.data.benchmarks.dnd import DND_CROP_SIZE, DND_N_CROPS, DND_N_IMAGES
from invdn.data.benchmarks.matfiles import MatFileError
from invdn.data.benchmarks.sidd_blocks import SIDD_BLOCK, SIDD_GRID

SIDD_DENOISED_KEY = "DenoisedBlocksSrgb"
SIDD_TIME_KEY = "TimeMPSrgb"
SIDD_OPTIONAL_KEY = "OptionalData"
SIDD_OPTIONAL_FIELDS = ("MethodName", "Authors", "PaperTitle", "Venue", "MachineSpecs")
"""The ``OptionalData`` fields the SIDD kit's demo fills; any other MATLAB field name is allowed."""

DND_CROP_KEY = "Idenoised_crop"
DND_BUNDLE_KEY = "Idenoised"
DND_EVAL_VERSION = "1.0"

_MATLAB_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}\Z")


class SubmissionError(ValueError):
    """Submission data that does not match what the benchmark expects; nothing was written."""


def seconds_per_megapixel(total_seconds: float, n_pixels: int) -> float:
    """Denoising time in seconds per megapixel, 1 MP = 1024 * 1024 pixels as in SIDD's kit.

    For SIDD: ``n_pixels = 40 * 32 * 256 * 256`` (spatial pixels; channels not counted).
    """
    if n_pixels <= 0:
        raise ValueError(f"n_pixels must be positive, got {n_pixels}")
    return float(total_seconds) * 1024 * 1024 / n_pixels


def _check_optional(optional: Mapping[str, object]) -> dict[str, object]:
    checked = {}
    for name, value in optional.items():
        if not isinstance(name, str) or not _MATLAB_FIELD.match(name):
            raise SubmissionError(
                f"OptionalData field {name!r} is not a MATLAB field name (a letter, then up to 62 "
                f"letters, digits or underscores); the kit's fields are {list(SIDD_OPTIONAL_FIELDS)}"
            )
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise SubmissionError(
                f"OptionalData.{name} is {type(value).__name__}; expected a str or a number"
            )
        checked[name] = value
    return checked


def write_sidd_submission(
    path: str | os.PathLike,
    denoised: np.ndarray,
    seconds_per_mp: float,
    optional: Mapping[str, object] | None = None,
    numeric_array: bool = False,
    expected_grid: tuple[int, int] | None = SIDD_GRID,
) -> Path:
    """Write SIDD's ``SubmitSrgb.mat`` (MATLAB v5) atomically; returns ``path``.

    Variables written:
        ``DenoisedBlocksSrgb``: an A x B cell array (a numpy object array of shape (A, B)) of
            256 x 256 x 3 uint8 blocks, as the kit's ``cell(nImages, nBlocks)``; with
            ``numeric_array=True`` one uint8 array (A, B, 256, 256, 3), as InvDN's code writes.
        ``TimeMPSrgb``: ``seconds_per_mp`` (1 x 1 double), see :func:`seconds_per_megapixel`.
        ``OptionalData``: a 1 x 1 struct of ``optional`` (str or number values), e.g.
            ``MethodName``, ``Authors``, ``PaperTitle``, ``Venue``, ``MachineSpecs``; an empty
            struct when None (always written; InvDN's own file has none, the kit's always does).

    Args:
        denoised: (A, B, 256, 256, 3) uint8 RGB blocks, block b of image i at ``[i, b]`` in the
            order of ``BenchmarkNoisyBlocksSrgb``.
        expected_grid: required (A, B); SIDD's (40, 32) by default, None accepts any.

    Raises:
        SubmissionError: wrong dtype or shape, a negative/non-finite time, a bad optional
            field (the message starts with ``path``); raised before anything is written.
    """
    path = Path(path)
    denoised = np.asarray(denoised)
    if denoised.dtype != np.uint8 or denoised.ndim != 5 or denoised.shape[2:] != SIDD_BLOCK:
        raise SubmissionError(
            f"{path}: denoised blocks are {denoised.dtype} of shape {denoised.shape}; expected uint8 of "
            f"shape (A, B, 256, 256, 3) (quantise with invdn.data.io.float_to_uint8 first)"
        )
    if expected_grid is not None and denoised.shape[:2] != tuple(expected_grid):
        raise SubmissionError(
            f"{path}: denoised blocks form a {denoised.shape[:2]} grid; SIDD expects {tuple(expected_grid)} "
            "(40 images x 32 blocks); pass expected_grid=None for a partial file"
        )
    try:
        seconds = float(seconds_per_mp)
    except (TypeError, ValueError):
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise SubmissionError(f"{path}: seconds_per_mp is {seconds_per_mp!r}; expected a finite number >= 0")
    try:
        fields = _check_optional(optional or {})
    except SubmissionError as e:
        raise SubmissionError(f"{path}: {e}") from None

    if numeric_array:
        blocks = np.ascontiguousarray(denoised)
    else:
        blocks = np.empty(denoised.shape[:2], dtype=object)
        for i in range(denoised.shape[0]):
            for b in range(denoised.shape[1]):
                blocks[i, b] = np.ascontiguousarray(denoised[i, b])
    mdict = {SIDD_DENOISED_KEY: blocks, SIDD_TIME_KEY: seconds, SIDD_OPTIONAL_KEY: fields}
    write_atomic(path, lambda tmp: _savemat(tmp, mdict))
    return path


def _savemat(tmp: str, mdict: dict[str, object]) -> None:
    # A file object, not a name: savemat would append ".mat" to the temporary name.
    with open(tmp, "wb") as f:
        scipy.io.savemat(f, mdict, long_field_names=True)


def zip_submission(files: Iterable[str | os.PathLike], zip_path: str | os.PathLike) -> Path:
    """Zip ``files`` flat (each under its own name, no folders), deflated, atomically; returns ``zip_path``.

    Raises:
        SubmissionError: no files, a file is missing, or two files share a name.
    """
    files = [Path(p) for p in files]
    if not files:
        raise SubmissionError(f"{zip_path}: nothing to zip")
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise SubmissionError(f"{zip_path}: files to zip not found: {missing}")
    names = [p.name for p in files]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SubmissionError(f"{zip_path}: several files named {dupes}; the zip is flat, names must differ")

    def write(tmp: str) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for p in files:
                zf.write(p, arcname=p.name)

    zip_path = Path(zip_path)
    write_atomic(zip_path, write)
    return zip_path


def dnd_crop_name(image: int, box: int) -> str:
    """The kit's crop file name for image ``image`` and box ``box``, both 1-based: ``"0001_01.mat"``."""
    return f"{image:04d}_{box:02d}.mat"


def dnd_bundle_name(image: int) -> str:
    """The kit's bundled file name for image ``image`` (1-based): ``"0001.mat"``."""
    return f"{image:04d}.mat"


def _check_crop(where: str, crop: np.ndarray, crop_size: int | None) -> np.ndarray:
    if crop.dtype not in (np.float32, np.float64) or crop.ndim != 3 or crop.shape[2] != 3 or (
        crop_size is not None and crop.shape[:2] != (crop_size, crop_size)
    ):
        size = "S x S" if crop_size is None else f"{crop_size} x {crop_size}"
        raise SubmissionError(f"{where}: crop is {crop.dtype} of shape {crop.shape}; expected float32 {size} x 3")
    if not np.all(np.isfinite(crop)) or crop.min() < 0 or crop.max() > 1:
        raise SubmissionError(
            f"{where}: crop values span [{np.nanmin(crop)}, {np.nanmax(crop)}] or are not finite; "
            "expected [0, 1] (clip the model output first)"
        )
    return np.ascontiguousarray(crop, dtype=np.float32)


def write_dnd_crop(path: str | os.PathLike, crop: np.ndarray, crop_size: int | None = DND_CROP_SIZE) -> Path:
    """Write one denoised DND crop as the kit does: ``{'Idenoised_crop': crop}`` (v5), atomically.

    Args:
        path: by convention ``<crops_dir>/`` + :func:`dnd_crop_name` (1-based numbers).
        crop: (512, 512, 3) float32 (float64 is cast) RGB in [0, 1].
        crop_size: required side (DND: 512); None accepts any square-or-not size.

    Raises:
        SubmissionError: wrong dtype/shape, values outside [0, 1] or not finite; nothing written.
    """
    path = Path(path)
    crop = _check_crop(str(path), np.asarray(crop), crop_size)
    write_atomic(path, lambda tmp: _savemat(tmp, {DND_CROP_KEY: crop}))
    return path


def _read_crop(path: Path, crop_size: int | None) -> np.ndarray:
    try:
        m = scipy.io.loadmat(path, variable_names=[DND_CROP_KEY])
    except Exception as e:
        raise MatFileError(f"{path}: could not be read ({e}); write this crop again") from None
    if DND_CROP_KEY not in m:
        raise MatFileError(f"{path}: no variable {DND_CROP_KEY!r}; write it with write_dnd_crop")
    crop = m[DND_CROP_KEY]
    if crop.dtype != np.float32:
        raise SubmissionError(f"{path}: crop is {crop.dtype}; expected float32 (MATLAB single)")
    return _check_crop(str(path), crop, crop_size)


def bundle_dnd(
    crops_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    n_images: int = DND_N_IMAGES,
    n_crops: int = DND_N_CROPS,
    crop_size: int | None = DND_CROP_SIZE,
) -> list[Path]:
    """Bundle per-crop files into DND's per-image submission files; returns the written paths.

    Reads ``crops_dir/%04d_%02d.mat`` (image 1..n_images, box 1..n_crops) and writes
    ``out_dir/%04d.mat`` per image with ``Idenoised`` (an (n_crops,) object array = 1 x 20 cell
    of the crops in box order), ``israw`` False (logical) and ``eval_version`` "1.0", as the kit's
    ``bundle_submissions_srgb``; the kit's ``out_dir`` is ``<crops_dir>/bundled``. Zip the result
    with :func:`zip_submission` to upload.

    Raises:
        SubmissionError: any crop file is missing (all are checked before anything is written;
            the message lists them), or a crop has the wrong dtype/shape/range (the bundles of
            earlier images stay written: each is complete).
        MatFileError: a crop file cannot be read or lacks ``Idenoised_crop``.
    """
    crops_dir, out_dir = Path(crops_dir), Path(out_dir)
    wanted = [
        [crops_dir / dnd_crop_name(i, k) for k in range(1, n_crops + 1)] for i in range(1, n_images + 1)
    ]
    missing = [str(p) for row in wanted for p in row if not p.is_file()]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise SubmissionError(
            f"{crops_dir}: {len(missing)} of {n_images * n_crops} crop files missing ({shown}); "
            "denoise every box of every image first"
        )
    written = []
    for i, row in enumerate(wanted, start=1):
        bundle = np.empty((n_crops,), dtype=object)
        for k, p in enumerate(row):
            bundle[k] = _read_crop(p, crop_size)
        mdict = {DND_BUNDLE_KEY: bundle, "israw": False, "eval_version": DND_EVAL_VERSION}
        path = out_dir / dnd_bundle_name(i)
        write_atomic(path, lambda tmp, mdict=mdict: _savemat(tmp, mdict))
        written.append(path)
    return written
