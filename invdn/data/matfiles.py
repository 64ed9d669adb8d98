"""Reading the MATLAB files of the SIDD and DND benchmarks: SIDD sRGB blocks, DND images and boxes.

Two MAT-file formats occur, and every reader here accepts both, detected from the file itself:

* **v5** (SIDD's ``ValidationNoisyBlocksSrgb.mat``, ``ValidationGtBlocksSrgb.mat``,
  ``BenchmarkNoisyBlocksSrgb.mat``): read with :func:`scipy.io.loadmat`, which returns arrays in
  MATLAB's own dimension order.
* **v7.3** (DND's ``images_srgb/%04d.mat`` and ``info.mat``): HDF5 behind a 512-byte MATLAB text
  header. h5py sees MATLAB's column-major arrays with their dimensions reversed (a MATLAB
  H x W x 3 image is an HDF5 (3, W, H) dataset), so arrays are transposed back to MATLAB order.
  scipy cannot read v7.3 at all; a SIDD file re-saved as v7.3 is therefore read with h5py rather
  than refused (it costs one transpose).

SIDD (Abdelhamed, Lin & Brown, CVPR 2018): each blocks file holds one uint8 array of
(40 images, 32 blocks, 256, 256, 3) sRGB blocks; readers accept any (A, B) leading grid so that
tests and subsets can be small, and check the (256, 256, 3) uint8 block layout.

DND (Plötz & Roth, CVPR 2017): 50 images, each with 20 boxes of 512 x 512 pixels to denoise.
Box convention (the DND submission kit, ``denoise_srgb.m`` and ``dnd_denoise.py``): ``info(i).
boundingboxes`` is a 20 x 4 MATLAB matrix whose row ``b`` is ``[r1, c1, r2, c2]``, 1-based and
inclusive, rows (y) first: the kit crops ``Inoisy(bb(1):bb(3), bb(2):bb(4), :)`` in MATLAB and
``Inoisy[bb[0]-1:bb[2], bb[1]-1:bb[3]]`` in Python, after ``boxes = np.array(info[ref]).T``.
:func:`read_dnd_boxes` returns exactly these MATLAB values and :func:`dnd_crops` applies them.

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

from .io import ImageError, write_rgb
from .pairs import CLEAN, NOISY, ArrayPair

SIDD_GRID = (40, 32)
"""(images, blocks per image) of SIDD's validation and benchmark blocks files."""
SIDD_BLOCK = (256, 256, 3)
"""(H, W, C) of one SIDD sRGB block (uint8)."""
SIDD_VAL_NOISY_KEY = "ValidationNoisyBlocksSrgb"
SIDD_VAL_GT_KEY = "ValidationGtBlocksSrgb"
SIDD_BENCHMARK_KEY = "BenchmarkNoisyBlocksSrgb"
SIDD_KEYS = (SIDD_VAL_NOISY_KEY, SIDD_VAL_GT_KEY, SIDD_BENCHMARK_KEY)

DND_N_IMAGES = 50
DND_N_CROPS = 20
DND_CROP_SIZE = 512
DND_IMAGE_KEY = "InoisySRGB"
"""Variable of DND's ``images_srgb/%04d.mat``: H x W x 3 single in [0, 1]."""

MatVersion = Literal["v4", "v5", "v7.3"]

_FIX_DOWNLOAD = "the file is probably truncated or corrupt: download or copy it again"


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
        raise MatFileError(f"{path}: not a readable MATLAB .mat file ({e}); {_FIX_DOWNLOAD}") from None
    if major == 2:
        raise MatFileError(
            f"{path}: has a MATLAB v7.3 header but no readable HDF5 body; {_FIX_DOWNLOAD}"
        )
    return "v4" if major == 0 else "v5"


def _h5_names(group: h5py.Group) -> list[str]:
    # MATLAB's own bookkeeping groups ('#refs#', '#subsystem#') are not variables.
    return sorted(k for k in group.keys() if not k.startswith("#"))


def _h5_class(obj: h5py.Dataset | h5py.Group) -> str:
    cls = obj.attrs.get("MATLAB_class")
    if cls is None:
        return "struct" if isinstance(obj, h5py.Group) else obj.dtype.name
    return cls.decode() if isinstance(cls, bytes) else str(cls)


def _variable_info(
    path: Path, key: str, version: MatVersion, fix: str = "check that this is the right file"
) -> tuple[tuple[int, ...], str]:
    """(shape in MATLAB order, MATLAB class) of variable ``key``, without loading its data."""
    try:
        if version == "v7.3":
            with h5py.File(path, "r") as f:
                names = _h5_names(f)
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
        raise MatFileError(f"{path}: could not be read ({e}); {_FIX_DOWNLOAD}") from None
    raise MatFileError(
        f"{path}: no variable {key!r}; the file holds {names or 'no variables'}: {fix}"
    )


def _load_variable(path: Path, key: str, version: MatVersion) -> np.ndarray:
    """Variable ``key`` as a numeric array in MATLAB's dimension order (v7.3 transposed back)."""
    try:
        if version == "v7.3":
            with h5py.File(path, "r") as f:
                return f[key][()].T
        return scipy.io.loadmat(path, variable_names=[key])[key]
    except Exception as e:
        raise MatFileError(f"{path}: variable {key!r} could not be read ({e}); {_FIX_DOWNLOAD}") from None


def read_sidd_blocks(path: str | os.PathLike, key: str | None = None) -> np.ndarray:
    """Read SIDD sRGB blocks: (A, B, 256, 256, 3) uint8, C-contiguous, RGB in [0, 255].

    SIDD's files hold (A, B) = (40, 32): 40 images x 32 blocks (``SIDD_GRID``); any grid is
    accepted so that subsets and tests stay small. Both v5 (as distributed) and v7.3 files are read.

    Args:
        path: ``ValidationNoisyBlocksSrgb.mat``, ``ValidationGtBlocksSrgb.mat`` or
            ``BenchmarkNoisyBlocksSrgb.mat`` (or a file holding one such variable).
        key: the variable to read; None picks the one SIDD key (``SIDD_KEYS``) the file holds.

    Raises:
        MatFileError: missing/truncated/non-MAT file; ``key`` absent (the message lists the
            variables present); the variable is not uint8 of shape (A, B, 256, 256, 3).

    Source: SIDD benchmark kit (``SIDD_Benchmark_Code_v1.2``), which indexes
    ``BenchmarkNoisyBlocksSrgb(i, b, :, :, :)`` for image i and block b.
    """
    path = Path(path)
    version = mat_version(path)
    if key is None:
        key = _only_sidd_key(path, version)
    shape, cls = _variable_info(path, key, version, fix="check the file, or pass the key= it uses")
    _check_blocks(path, key, shape, cls)
    blocks = _load_variable(path, key, version)
    _check_blocks(path, key, blocks.shape, blocks.dtype.name)
    return np.ascontiguousarray(blocks)


def _only_sidd_key(path: Path, version: MatVersion) -> str:
    try:
        if version == "v7.3":
            with h5py.File(path, "r") as f:
                names = _h5_names(f)
        else:
            names = sorted(name for name, _, _ in scipy.io.whosmat(path))
    except Exception as e:
        raise MatFileError(f"{path}: could not be read ({e}); {_FIX_DOWNLOAD}") from None
    found = [k for k in SIDD_KEYS if k in names]
    if len(found) != 1:
        raise MatFileError(
            f"{path}: expected exactly one of the SIDD variables {list(SIDD_KEYS)}, the file holds "
            f"{names or 'no variables'}; pass key= to choose one"
        )
    return found[0]


def _check_blocks(path: Path, key: str, shape: tuple[int, ...], cls: str) -> None:
    if len(shape) != 5 or tuple(shape[2:]) != SIDD_BLOCK or cls != "uint8":
        raise MatFileError(
            f"{path}: variable {key!r} is {cls} of shape {tuple(shape)}; expected uint8 sRGB blocks "
            f"of shape (A, B, 256, 256, 3) (SIDD's are {SIDD_GRID + SIDD_BLOCK}). Check that this is "
            "the sRGB blocks file (not the raw one) and that it was not converted"
        )


def sidd_block_name(image: int, block: int) -> str:
    """File stem of block ``block`` of image ``image`` (0-based array indices): ``"07_31"``."""
    return f"{image:02d}_{block:02d}"


def export_sidd_val(
    noisy_mat: str | os.PathLike,
    gt_mat: str | os.PathLike,
    out_dir: str | os.PathLike,
    noisy_key: str = SIDD_VAL_NOISY_KEY,
    gt_key: str = SIDD_VAL_GT_KEY,
) -> int:
    """Write SIDD validation blocks as PNG pairs in the layout :func:`~invdn.data.pairs.find_pairs` reads.

    Writes ``out_dir/Noisy/<i:02d>_<j:02d>.PNG`` and ``out_dir/GT/<i:02d>_<j:02d>.PNG`` for image
    i and block j, both 0-based array indices (so ``00_00`` .. ``39_31``), each (256, 256, 3)
    uint8 RGB, written atomically (existing files of the same name are replaced).

    Returns:
        The number of pairs written, A * B (1280 for SIDD's (40, 32) grid).

    Raises:
        MatFileError: as :func:`read_sidd_blocks`, or the two files' grids differ.
    """
    noisy = read_sidd_blocks(noisy_mat, noisy_key)
    clean = read_sidd_blocks(gt_mat, gt_key)
    if noisy.shape != clean.shape:
        raise MatFileError(
            f"{noisy_mat} holds blocks of shape {noisy.shape} but {gt_mat} holds {clean.shape}; "
            "the noisy and ground-truth files must come from the same SIDD split"
        )
    out_dir = Path(out_dir)
    n_images, n_blocks = noisy.shape[:2]
    for i in range(n_images):
        for j in range(n_blocks):
            name = sidd_block_name(i, j) + ".PNG"
            write_rgb(out_dir / NOISY / name, noisy[i, j])
            write_rgb(out_dir / CLEAN / name, clean[i, j])
    return n_images * n_blocks


def read_dnd_image(path: str | os.PathLike) -> np.ndarray:
    """Read one DND sRGB image (``images_srgb/%04d.mat``): (H, W, 3) float32, C-contiguous, [0, 1].

    The file is MATLAB v7.3 holding ``InoisySRGB`` (H x W x 3 single); h5py sees it as (3, W, H)
    and it is transposed back, as the kit's ``np.float32(np.array(img['InoisySRGB']).T)`` does. A
    v5 re-save is read as well. Values are returned as stored (DND's are in [0, 1]; not checked).

    Raises:
        MatFileError: missing/truncated file; no ``InoisySRGB`` (the message lists what the file
            holds); not single/double of shape (H, W, 3).
    """
    path = Path(path)
    version = mat_version(path)
    shape, cls = _variable_info(
        path, DND_IMAGE_KEY, version, fix="expected a DND sRGB image (images_srgb/%04d.mat)"
    )
    _check_dnd_image(path, shape, cls)
    image = _load_variable(path, DND_IMAGE_KEY, version)
    _check_dnd_image(path, image.shape, image.dtype.name)
    return np.ascontiguousarray(image, dtype=np.float32)


def _check_dnd_image(path: Path, shape: tuple[int, ...], cls: str) -> None:
    if len(shape) != 3 or shape[2] != 3 or cls not in ("single", "double", "float32", "float64"):
        raise MatFileError(
            f"{path}: {DND_IMAGE_KEY!r} is {cls} of MATLAB shape {tuple(shape)}; expected an "
            "H x W x 3 single image in [0, 1] (DND images_srgb/%04d.mat). Check that this is an "
            "sRGB image file, not a raw one (images_raw holds 'Inoisy')"
        )


def read_dnd_boxes(info_mat: str | os.PathLike) -> np.ndarray:
    """Read DND's bounding boxes from ``info.mat``: (N, K, 4) int64, 1-based inclusive.

    ``boxes[i, k] = [r1, c1, r2, c2]``: box k of image i (both 0-based here; the kit's files are
    numbered i + 1, k + 1) covers MATLAB rows r1..r2 and columns c1..c2 inclusive, i.e. the numpy
    slice ``image[r1 - 1:r2, c1 - 1:c2]`` (see :func:`dnd_crops`). DND has N = 50, K = 20 and
    512 x 512 boxes (``r2 - r1 + 1 == c2 - c1 + 1 == 512``); other N, K are accepted.

    Layout read (v7.3, as distributed): group ``info`` with dataset ``boundingboxes`` of HDF5
    object references (HDF5 shape (1, N): a 50 x 1 MATLAB struct array), each pointing to a
    (4, K) float64 dataset = a K x 4 MATLAB matrix; the kit reads it as
    ``np.array(info[info['boundingboxes'][0][i]]).T``. A v5 re-save (``info`` a struct array
    with field ``boundingboxes``) is read as well.

    Raises:
        MatFileError: missing/truncated file; no ``info`` or no ``boundingboxes`` field (the
            message lists what is present); a box matrix that is not K x 4, not integral, not
            1-based, with r2 < r1 or c2 < c1, or images with different box counts.
    """
    path = Path(info_mat)
    version = mat_version(path)
    try:
        if version == "v7.3":
            matrices = _h5_box_matrices(path)
        else:
            matrices = _v5_box_matrices(path)
    except MatFileError:
        raise
    except Exception as e:
        raise MatFileError(f"{path}: the bounding boxes could not be read ({e}); {_FIX_DOWNLOAD}") from None
    if not matrices:
        raise MatFileError(f"{path}: info.boundingboxes is empty; expected one K x 4 matrix per image")
    for i, m in enumerate(matrices):
        if m.ndim != 2 or m.shape[1] != 4 or m.shape[0] != matrices[0].shape[0]:
            raise MatFileError(
                f"{path}: boundingboxes of image {i + 1} has MATLAB shape {m.shape}; expected "
                f"{matrices[0].shape[0] if i else 'K'} x 4 like the others (DND: 20 x 4, rows "
                "[r1 c1 r2 c2])"
            )
    boxes = np.stack(matrices).astype(np.float64)
    if not np.all(np.isfinite(boxes)) or not np.array_equal(boxes, np.round(boxes)):
        raise MatFileError(f"{path}: bounding boxes are not whole pixel indices; expected 1-based integers")
    boxes = boxes.astype(np.int64)
    bad = (boxes[..., :2] < 1).any(-1) | (boxes[..., 2] < boxes[..., 0]) | (boxes[..., 3] < boxes[..., 1])
    if bad.any():
        i, k = np.argwhere(bad)[0]
        raise MatFileError(
            f"{path}: box {k + 1} of image {i + 1} is {boxes[i, k].tolist()}; expected 1-based "
            "[r1, c1, r2, c2] with r1 <= r2 and c1 <= c2"
        )
    return boxes


def _h5_box_matrices(path: Path) -> list[np.ndarray]:
    with h5py.File(path, "r") as f:
        if "info" not in f:
            raise MatFileError(f"{path}: no variable 'info'; the file holds {_h5_names(f)}; expected DND's info.mat")
        info = f["info"]
        if not isinstance(info, h5py.Group) or "boundingboxes" not in info:
            fields = _h5_names(info) if isinstance(info, h5py.Group) else []
            raise MatFileError(
                f"{path}: 'info' has no field 'boundingboxes' (fields: {fields}); expected DND's info.mat"
            )
        refs = info["boundingboxes"]
        if h5py.check_ref_dtype(refs.dtype) is None:
            raise MatFileError(
                f"{path}: info.boundingboxes is {refs.dtype} of shape {refs.shape}; expected object "
                "references, one per image (a MATLAB struct array)"
            )
        # C order over HDF5's reversed dims is MATLAB's column-major image order.
        return [np.asarray(f[ref][()]).T for ref in refs[()].ravel()]


def _v5_box_matrices(path: Path) -> list[np.ndarray]:
    entries = {name: cls for name, _, cls in scipy.io.whosmat(path)}
    if "info" not in entries:
        raise MatFileError(f"{path}: no variable 'info'; the file holds {sorted(entries)}; expected DND's info.mat")
    info = scipy.io.loadmat(path, variable_names=["info"])["info"]
    fields = info.dtype.names or ()
    if "boundingboxes" not in fields:
        raise MatFileError(
            f"{path}: 'info' has no field 'boundingboxes' (fields: {list(fields)}); expected DND's info.mat"
        )
    return [np.asarray(m) for m in info["boundingboxes"].ravel(order="F")]


def dnd_crops(image: np.ndarray, boxes: np.ndarray, crop_size: int | None = DND_CROP_SIZE) -> list[np.ndarray]:
    """Cut the boxes of one DND image: a list of K (h, w, 3) copies, same dtype as ``image``.

    Args:
        image: (H, W, 3) array, as :func:`read_dnd_image` returns.
        boxes: (K, 4) ints ``[r1, c1, r2, c2]``, 1-based inclusive (one image of
            :func:`read_dnd_boxes`); crop k is ``image[r1 - 1:r2, c1 - 1:c2]``, exactly the kit's
            ``idx = [bb[0]-1, bb[2], bb[1]-1, bb[3]]; Inoisy[idx[0]:idx[1], idx[2]:idx[3]]``.
        crop_size: every box must be crop_size x crop_size (DND: 512); None skips the check.

    Raises:
        ValueError: ``image`` is not (H, W, 3), ``boxes`` not (K, 4), a box leaves the image or
            has the wrong size.
    """
    image = np.asarray(image)
    boxes = np.asarray(boxes)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"dnd_crops expects an (H, W, 3) image, got shape {image.shape}")
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"dnd_crops expects (K, 4) boxes [r1, c1, r2, c2], got shape {boxes.shape}")
    height, width = image.shape[:2]
    crops = []
    for k, (r1, c1, r2, c2) in enumerate(boxes.astype(np.int64).tolist()):
        if not (1 <= r1 <= r2 <= height and 1 <= c1 <= c2 <= width):
            raise ValueError(
                f"box {k + 1} [r1, c1, r2, c2] = {[r1, c1, r2, c2]} (1-based, inclusive) leaves the "
                f"{height} x {width} image; are the boxes from this image's entry of info.mat?"
            )
        if crop_size is not None and (r2 - r1 + 1, c2 - c1 + 1) != (crop_size, crop_size):
            raise ValueError(
                f"box {k + 1} {[r1, c1, r2, c2]} is {r2 - r1 + 1} x {c2 - c1 + 1}, expected "
                f"{crop_size} x {crop_size} (DND boxes are 512 x 512, 1-based inclusive)"
            )
        crops.append(image[r1 - 1 : r2, c1 - 1 : c2].copy())
    return crops


def sidd_gt_partner(noisy_mat: str | os.PathLike) -> Path:
    """The ground-truth file beside a SIDD noisy-blocks file: ``...NoisyBlocksSrgb.mat`` ->
    ``...GtBlocksSrgb.mat`` in the same folder (SIDD's own names).

    Raises:
        MatFileError: the name has no ``Noisy`` to replace, or the partner does not exist.
    """
    noisy_mat = Path(noisy_mat)
    if "Noisy" not in noisy_mat.name:
        raise MatFileError(f"{noisy_mat}: expected a SIDD noisy-blocks file named like ValidationNoisyBlocksSrgb.mat "
                           "(its ground truth is read from ValidationGtBlocksSrgb.mat beside it)")
    gt = noisy_mat.with_name(noisy_mat.name.replace("Noisy", "Gt", 1))
    if not gt.is_file():
        raise MatFileError(f"{noisy_mat}: its ground-truth partner {gt} was not found; put both SIDD files in one folder")
    return gt


def sidd_block_pairs(noisy_mat: str | os.PathLike, gt_mat: str | os.PathLike | None = None) -> list[ArrayPair]:
    """SIDD blocks of a noisy/GT pair of .mat files as in-memory pairs named ``ii_jj`` (0-based),
    the names ``export_sidd_val`` gives the PNGs, so both routes score the same images alike.

    ``gt_mat`` defaults to :func:`sidd_gt_partner`. Keys are found as in :func:`read_sidd_blocks`.

    Raises:
        MatFileError: unreadable files, wrong keys, shapes or dtypes, or grids that differ.
    """
    gt_mat = Path(gt_mat) if gt_mat is not None else sidd_gt_partner(noisy_mat)
    noisy, clean = read_sidd_blocks(noisy_mat), read_sidd_blocks(gt_mat)
    if noisy.shape != clean.shape:
        raise MatFileError(f"{noisy_mat} holds {noisy.shape[:2]} blocks but {gt_mat} holds {clean.shape[:2]}")
    return [ArrayPair(sidd_block_name(i, j), noisy[i, j], clean[i, j], f"{noisy_mat}[{i}, {j}]")
            for i in range(noisy.shape[0]) for j in range(noisy.shape[1])]
