"""DND's files: the noisy sRGB images, their bounding boxes, and the crops the benchmark scores.

DND (Plötz & Roth, CVPR 2017): 50 images, each with 20 boxes of 512 x 512 pixels to denoise; the
files are MATLAB v7.3 (a v5 re-save is read too, see :mod:`invdn.data.benchmarks.matfiles`).
Box convention (the DND submission kit, ``denoise_srgb.m`` and ``dnd_denoise.py``): ``info(i).
boundingboxes`` is a 20 x 4 MATLAB matrix whose row ``b`` is ``[r1, c1, r2, c2]``, 1-based and
inclusive, rows (y) first: the kit crops ``Inoisy(bb(1):bb(3), bb(2):bb(4), :)`` in MATLAB and
``Inoisy[bb[0]-1:bb[2], bb[1]-1:bb[3]]`` in Python, after ``boxes = np.array(info[ref]).T``.
:func:`read_dnd_boxes` returns exactly these MATLAB values and :func:`dnd_crops` applies them.

File errors are :class:`~invdn.data.benchmarks.matfiles.MatFileError` naming the file, what was
found, what was expected and what to do.
"""
from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import scipy.io

from invdn.data.benchmarks.matfiles import (FIX_DOWNLOAD, MatFileError, h5_names, load_variable, mat_version,
                                            variable_info)

DND_N_IMAGES = 50
DND_N_CROPS = 20
DND_CROP_SIZE = 512
DND_IMAGE_KEY = "InoisySRGB"
"""Variable of DND's ``images_srgb/%04d.mat``: H x W x 3 single in [0, 1]."""


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
    shape, cls = variable_info(
        path, DND_IMAGE_KEY, version, fix="expected a DND sRGB image (images_srgb/%04d.mat)"
    )
    _check_dnd_image(path, shape, cls)
    image = load_variable(path, DND_IMAGE_KEY, version)
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
        raise MatFileError(f"{path}: the bounding boxes could not be read ({e}); {FIX_DOWNLOAD}") from None
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
            raise MatFileError(f"{path}: no variable 'info'; the file holds {h5_names(f)}; expected DND's info.mat")
        info = f["info"]
        if not isinstance(info, h5py.Group) or "boundingboxes" not in info:
            fields = h5_names(info) if isinstance(info, h5py.Group) else []
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
