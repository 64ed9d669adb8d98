"""SIDD's sRGB blocks files: reading them, and turning the validation blocks into image pairs.

SIDD (Abdelhamed, Lin & Brown, CVPR 2018): each blocks file (``ValidationNoisyBlocksSrgb.mat``,
``ValidationGtBlocksSrgb.mat``, ``BenchmarkNoisyBlocksSrgb.mat``, MATLAB v5 as distributed; a
v7.3 re-save is read too, see :mod:`invdn.data.benchmarks.matfiles`) holds one uint8 array of
(40 images, 32 blocks, 256, 256, 3) sRGB blocks; readers accept any (A, B) leading grid so that
tests and subsets can be small, and check the (256, 256, 3) uint8 block layout.

All errors are :class:`~invdn.data.benchmarks.matfiles.MatFileError` naming the file, what was
found, what was expected and what to do.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from invdn.data.benchmarks.matfiles import (MatFileError, MatVersion, load_variable, mat_version, variable_info,
                                            variable_names)
from invdn.data.io import write_rgb
from invdn.data.pairs import CLEAN, NOISY, ArrayPair

SIDD_GRID = (40, 32)
"""(images, blocks per image) of SIDD's validation and benchmark blocks files."""
SIDD_BLOCK = (256, 256, 3)
"""(H, W, C) of one SIDD sRGB block (uint8)."""
SIDD_VAL_NOISY_KEY = "ValidationNoisyBlocksSrgb"
SIDD_VAL_GT_KEY = "ValidationGtBlocksSrgb"
SIDD_BENCHMARK_KEY = "BenchmarkNoisyBlocksSrgb"
SIDD_KEYS = (SIDD_VAL_NOISY_KEY, SIDD_VAL_GT_KEY, SIDD_BENCHMARK_KEY)


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
    shape, cls = variable_info(path, key, version, fix="check the file, or pass the key= it uses")
    _check_blocks(path, key, shape, cls)
    blocks = load_variable(path, key, version)
    _check_blocks(path, key, blocks.shape, blocks.dtype.name)
    return np.ascontiguousarray(blocks)


def _only_sidd_key(path: Path, version: MatVersion) -> str:
    names = variable_names(path, version)
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
