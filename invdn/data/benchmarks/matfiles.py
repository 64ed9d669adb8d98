"""Reading MATLAB files of either format, as the SIDD and DND benchmarks ship them.

Two MAT-file formats occur, and every reader here accepts both, detected from the file itself:

* **v5** (SIDD's ``ValidationNoisyBlocksSrgb.mat``, ``ValidationGtBlocksSrgb.mat``,
  ``BenchmarkNoisyBlocksSrgb.mat``): read with :func:`scipy.io.loadmat`, which returns arrays in
  MATLAB's own dimension order.
* **v7.3** (DND's ``images_srgb/%04d.mat`` and ``info.mat``): HDF5 behind a 512-byte MATLAB text
  header. h5py sees MATLAB's column-major arrays with their dimensions reversed (a MATLAB
  H x W x 3 image is an HDF5 (3, W, H) dataset), so arrays are transposed back to MATLAB order.
  scipy cannot read v7.3 at all; a SIDD file re-saved as v7.3 is therefore read with h5py rather
  than refused (it costs one transpose).

What the benchmarks' files hold is read by :mod:`invdn.data.benchmarks.sidd_blocks` (SIDD sRGB
blocks) and :mod:`invdn.data.benchmarks.dnd` (DND images and boxes), on top of these helpers.

All errors are :class:`MatFileError` (an :class:`~invdn.data.io.ImageError`, so a ValueError)
naming the file, what was found, what was expected and what to do.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import h5py
import numpy as np
import scipy.io
from scipy.io.matlab import matfile_version

from invdn.data.io import ImageError

MatVersion = Literal["v4", "v5", "v7.3"]

FIX_DOWNLOAD = "the file is probably truncated or corrupt: download or copy it again"
"""The advice of every error about a file that cannot be read at all."""


class MatFileError(ImageError):
    """A MATLAB file that cannot be used: the message names the file, what was found and the fix."""


def mat_version(path: str | os.PathLike) -> MatVersion:
    """Which MAT-file format ``path`` is: ``"v4"``, ``"v5"`` (also v6/v7) or ``"v7.3"`` (HDF5).

    Detected from the file, not its name: v7.3 is an HDF5 file (signature found by
    :func:`h5py.is_hdf5`, which looks past MATLAB's 512-byte text header); otherwise the version
    field of the 128-byte MATLAB header decides.

    Raises:
        MatFileError: the file is missing, empty, not a MAT-file, or has a v7.3 header without
            a readable HDF5 body (a truncated download).
    """
    path = Path(path)
    if not path.is_file():
        raise MatFileError(f"{path}: file not found")
    if h5py.is_hdf5(path):
        return "v7.3"
    try:
        with open(path, "rb") as f:
            major, _ = matfile_version(f)
    except Exception as e:  # scipy raises ValueError / MatReadError of several kinds
        raise MatFileError(f"{path}: not a readable MATLAB .mat file ({e}); {FIX_DOWNLOAD}") from None
    if major == 2:
        raise MatFileError(
            f"{path}: has a MATLAB v7.3 header but no readable HDF5 body; {FIX_DOWNLOAD}"
        )
    return "v4" if major == 0 else "v5"


def h5_names(group: h5py.Group) -> list[str]:
    """The MATLAB variables (or struct fields) of an HDF5 group of a v7.3 file, sorted."""
    # MATLAB's own bookkeeping groups ('#refs#', '#subsystem#') are not variables.
    return sorted(k for k in group.keys() if not k.startswith("#"))


def _h5_class(obj: h5py.Dataset | h5py.Group) -> str:
    cls = obj.attrs.get("MATLAB_class")
    if cls is None:
        return "struct" if isinstance(obj, h5py.Group) else obj.dtype.name
    return cls.decode() if isinstance(cls, bytes) else str(cls)


def variable_names(path: Path, version: MatVersion) -> list[str]:
    """The variables ``path`` holds, sorted, without loading their data.

    Raises:
        MatFileError: the file cannot be read.
    """
    try:
        if version == "v7.3":
            with h5py.File(path, "r") as f:
                return h5_names(f)
        return sorted(name for name, _, _ in scipy.io.whosmat(path))
    except Exception as e:
        raise MatFileError(f"{path}: could not be read ({e}); {FIX_DOWNLOAD}") from None


def variable_info(
    path: Path, key: str, version: MatVersion, fix: str = "check that this is the right file"
) -> tuple[tuple[int, ...], str]:
    """(shape in MATLAB order, MATLAB class such as ``"uint8"`` or ``"single"``) of variable
    ``key``, without loading its data; a struct's shape is ().

    Raises:
        MatFileError: the file cannot be read, or holds no ``key`` (the message lists the
            variables present, then ``fix``).
    """
    try:
        if version == "v7.3":
            with h5py.File(path, "r") as f:
                names = h5_names(f)
                if key in names:
                    obj = f[key]
                    shape = tuple(obj.shape[::-1]) if isinstance(obj, h5py.Dataset) else ()
                    return shape, _h5_class(obj)
        else:
            entries = scipy.io.whosmat(path)
            names = sorted(name for name, _, _ in entries)
            for name, shape, cls in entries:
                if name == key:
                    return tuple(shape), cls
    except Exception as e:
        raise MatFileError(f"{path}: could not be read ({e}); {FIX_DOWNLOAD}") from None
    raise MatFileError(
        f"{path}: no variable {key!r}; the file holds {names or 'no variables'}: {fix}"
    )


def load_variable(path: Path, key: str, version: MatVersion) -> np.ndarray:
    """Variable ``key`` as a numeric array in MATLAB's dimension order (v7.3 transposed back).

    Raises:
        MatFileError: the variable cannot be read.
    """
    try:
        if version == "v7.3":
            with h5py.File(path, "r") as f:
                return f[key][()].T
        return scipy.io.loadmat(path, variable_names=[key])[key]
    except Exception as e:
        raise MatFileError(f"{path}: variable {key!r} could not be read ({e}); {FIX_DOWNLOAD}") from None
