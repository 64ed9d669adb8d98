"""SIDD-Medium sRGB -> InvDN training patches (Noisy/, GT/, LQ/), deterministic and resumable.

The source pairs and the crop plan: ``invdn.data.benchmarks.sidd_plan``. Output layout (the one
``pairs.find_pairs(out, require_lq=True)`` reads; as the bundled SIDD_mini)::

    out/Noisy/<name>.PNG  out/GT/<name>.PNG    patch x patch crops at the same box
    out/LQ/<name>.PNG                          the GT crop, MATLAB-bicubic downscaled by 4 (make_lq)
    out/prepare.json                           the settings; a rerun with other settings is refused
    out/manifest.csv, out/manifest.sha256      the record of finished patches, and its checksum

with ``<name> = <instance folder>_<010|011>_<k:03d>``; the records are read and written by
``invdn.data.benchmarks.sidd_manifest``.

Resume design. A patch is *finished* when its three files are written and a row for it is
recorded. Records live in two files: ``manifest.csv`` (written atomically, only when every planned
patch is finished) and the journal ``manifest.partial.csv``, to which the parent process appends
the rows of each image as soon as a worker finishes it (one write, flushed and fsynced). A kill
therefore loses only the images in flight (at most one per worker); a torn last journal line is
ignored. A rerun trusts nothing blindly: a patch is skipped only if a record (manifest, then
journal, later wins) has the planned sources and box, and each of its three files exists and has
the recorded sha256; a file that fails is rewritten (alone: its intact siblings are kept). Every
file is written atomically (temporary sibling + rename), so a file is either complete or absent.
At the end the manifest is rewritten in plan order, ``manifest.sha256`` is written and the
journal removed. Because crops and PNG bytes are deterministic, a resumed run ends with the same
files and the same manifest as an uninterrupted one.
"""
from __future__ import annotations

import hashlib
import io
import os
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image
from tqdm import tqdm

from invdn.atomic import write_atomic, write_text_atomic
from invdn.data.benchmarks.sidd_manifest import (JOURNAL, MANIFEST, MANIFEST_SHA256, SUBFOLDERS, check_no_strays,
                                                 check_settings, csv_text, locked, open_journal, planned_fields,
                                                 read_rows, sha256_or_none)
from invdn.data.benchmarks.sidd_plan import Crop, find_sidd_medium, image_sizes, plan_crops
from invdn.data.io import ImageError, read_rgb
from invdn.data.pairs import DataLayoutError
from invdn.data.resize import make_lq

LQ_SCALE = 4  # LQ = clean / 4, as make_lq's default and the bundled LQ files

Record = tuple[str, ...]  # one manifest row (sidd_manifest.COLUMNS)


@dataclass(frozen=True)
class PrepareResult:
    """What ``prepare_sidd_medium`` did.

    ``manifest_sha256``: hex sha256 of ``manifest.csv`` (also in ``manifest.sha256``), the data's
    identity to log with every training run. ``n_written``: patches with at least one file
    (re)written by this call; ``n_skipped``: patches found complete and verified by hash;
    ``n_changed``: patches whose new row differs from an earlier record (see the warning).
    """

    out: Path
    manifest: Path
    manifest_sha256: str
    n_images: int
    n_patches: int
    n_written: int
    n_skipped: int
    n_changed: int


def _write_png(path: Path, image: np.ndarray) -> str:
    """Encode (H, W, 3) uint8 as PNG (as ``io.write_rgb``), write it atomically, return its sha256."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    data = buf.getvalue()
    write_atomic(path, lambda tmp: Path(tmp).write_bytes(data))
    return hashlib.sha256(data).hexdigest()


def _prepare_image(out: Path, todo: list[tuple[Crop, Record | None]]) -> tuple[list[Record], int]:
    """Worker: verify or make the patches of one image. ``todo``: (crop, recorded row or None).

    Reads the source pair (once) only if some file is missing or fails its recorded hash.
    Returns (manifest rows in the order of ``todo``, number of patches with a file written).
    """
    rows, written = [], 0
    sources = None
    for crop, record in todo:
        paths = [out / sub / f"{crop.name}.PNG" for sub in SUBFOLDERS]
        hashes = [None] * 3 if record is None else [
            h if sha256_or_none(p) == h else None for p, h in zip(paths, record[7:])
        ]
        if None in hashes:
            if sources is None:
                image = crop.image
                sources = read_rgb(image.noisy), read_rgb(image.clean)
            top, left, height, width = crop.box
            noisy, clean = (np.ascontiguousarray(s[top:top + height, left:left + width]) for s in sources)
            make = (lambda: noisy, lambda: clean, lambda: make_lq(clean))
            hashes = [h if h is not None else _write_png(p, m()) for p, h, m in zip(paths, hashes, make)]
            written += 1
        rows.append(planned_fields(crop) + tuple(hashes))
    return rows, written


def _single_threaded_worker() -> None:
    """Pool initializer: torch on one thread in each worker process.

    ``make_lq`` runs torch operations. A forked child whose parent has already run an OpenMP
    parallel region (any sizeable torch op) hangs in its first parallel region; on one thread torch
    and MKL open none (as in DataLoader workers). The workers are the parallelism anyway.
    """
    import torch

    torch.set_num_threads(1)


def _run(out: Path, tasks: list[list], workers: int) -> Iterator[tuple[int, object]]:
    """Yield (task number, (rows, written) or the ImageError/DataLayoutError raised) as tasks finish."""
    if workers == 1:  # in process: simpler to debug and profile, same results
        for i, todo in enumerate(tasks):
            try:
                yield i, _prepare_image(out, todo)
            except (ImageError, DataLayoutError) as e:
                yield i, e
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_single_threaded_worker) as pool:
        pending = {pool.submit(_prepare_image, out, todo): i for i, todo in enumerate(tasks)}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    i = pending.pop(future)
                    try:
                        yield i, future.result()
                    except (ImageError, DataLayoutError) as e:
                        yield i, e
        finally:  # on any other error (or a KeyboardInterrupt): do not start the images left
            for future in pending:
                future.cancel()


def _settings(root: Path, patch: int, per_image: int, seed: int, stride: int | None) -> dict:
    """What ``prepare.json`` records (``sidd_manifest.check_settings``)."""
    grid = stride is not None
    return {
        "format": 1,
        "source_root": str(root.resolve()),
        "patch": patch,
        "lq_scale": LQ_SCALE,
        "mode": "grid" if grid else "random",
        "per_image": None if grid else per_image,  # the settings that do not apply are null,
        "seed": None if grid else seed,             # so they cannot spuriously differ
        "stride": stride,
    }


def prepare_sidd_medium(
    root: str | os.PathLike,
    out: str | os.PathLike,
    patch: int = 512,
    per_image: int = 100,
    seed: int = 0,
    stride: int | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> PrepareResult:
    """Cut SIDD-Medium sRGB pairs into Noisy/GT/LQ training patches under ``out``, resumably.

    Args:
        root: SIDD_Medium_Srgb/Data (see ``find_sidd_medium``).
        out: output folder, new or made by an earlier call with the same settings.
        patch: patch side in pixels, divisible by 4 (LQ patches are patch / 4).
        per_image, seed, stride: the crop plan (``plan_crops``): random crops, or a grid.
        workers: processes, one image per task (each holds one decoded pair, ~100 MB at full
            SIDD size); default ``os.cpu_count()``; 1 runs in this process.
        progress: show a tqdm bar counting patches (verified or written).

    Outputs (all written atomically): ``out/{Noisy,GT,LQ}/<name>.PNG`` 8-bit RGB, the Noisy and
    GT crops at the same box of the source pair and ``make_lq`` of the GT crop; ``prepare.json``;
    ``manifest.csv`` (columns ``sidd_manifest.COLUMNS``, rows in plan order, sources relative to ``root``,
    sha256 of each PNG file); ``manifest.sha256`` (``<hex>  manifest.csv``, as sha256sum writes).
    The same root and settings give byte-identical files, whatever ``workers`` and however often
    the run was interrupted (the PNG bytes depend on the Pillow/zlib version; the random crops
    on NumPy's PCG64 ``integers``). Resuming: see the module docstring.

    Returns:
        PrepareResult (``manifest_sha256`` is the value to log with training runs).

    Raises:
        DataLayoutError: a bad source layout, ``out`` prepared with other settings or from another
            root, ``out`` non-empty without ``prepare.json``, patch files in ``out`` that the plan
            does not contain (images removed from ``root``), or another run holding ``out``.
        ImageError: source images that cannot be read (after all other images are done and
            recorded, so a rerun redoes only those); the message names every failed file.
        ValueError: patch not divisible by 4, or other invalid settings.
    """
    root, out = Path(root), Path(out)
    workers = _checked_workers(patch, workers)
    images = find_sidd_medium(root)
    crops = plan_crops(images, image_sizes(images), patch, per_image, seed, stride)
    out.mkdir(parents=True, exist_ok=True)
    with locked(out):
        check_settings(out, _settings(root, patch, per_image, seed, stride))
        check_no_strays(out, root, {c.name for c in crops})
        records = _earlier_records(out)
        tasks = _tasks(crops, records)
        made = _make_patches(out, tasks, records, workers, progress, len(crops))
        _report(made, len(tasks), out)
        digest = _write_manifest(out, [made.finished[c.name] for c in crops])
    return PrepareResult(out, out / MANIFEST, digest, len(images), len(crops), made.written,
                         len(crops) - made.written, made.changed)


def _checked_workers(patch: int, workers: int | None) -> int:
    """The number of worker processes (default: one per CPU), after checking the arguments."""
    if patch % LQ_SCALE:
        raise ValueError(f"patch must be divisible by {LQ_SCALE} (LQ = patch / {LQ_SCALE}), got {patch}")
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    return workers


def _earlier_records(out: Path) -> dict[str, Record]:
    """The rows recorded by earlier runs, by patch name: the manifest's, then the journal's (newer)."""
    manifest_rows, bad = read_rows(out / MANIFEST)
    if bad:  # stacklevel 3: the warning names the line that called prepare_sidd_medium
        warnings.warn(f"{out / MANIFEST}: {bad} unreadable rows; their patches are redone", stacklevel=3)
    return {r[0]: r for r in manifest_rows + read_rows(out / JOURNAL)[0]}  # journal is newer


def _tasks(crops: list[Crop], records: dict[str, Record]) -> list[list[tuple[Crop, Record | None]]]:
    """One task per image: its crops, each with its record when that record is of the planned crop
    (same sources and box: only then are its hashes worth checking)."""
    by_image: dict[str, list] = {}
    for crop in crops:
        record = records.get(crop.name)
        trusted = record if record is not None and record[:7] == planned_fields(crop) else None
        by_image.setdefault(crop.image.name, []).append((crop, trusted))
    return list(by_image.values())


@dataclass
class _Made:
    """What a run of the workers made: each finished patch's row, each failed image's error, and
    the patches written, and changed from their earlier record."""

    finished: dict[str, Record] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    written: int = 0
    changed: int = 0


def _make_patches(out: Path, tasks: list[list], records: dict[str, Record], workers: int, progress: bool,
                  total: int) -> _Made:
    """Run ``tasks`` (``workers`` processes), journaling each image's rows as soon as it is done."""
    made = _Made()
    with open_journal(out / JOURNAL) as journal, tqdm(
        total=total, unit="patch", desc="SIDD-Medium patches", disable=not progress
    ) as bar:
        for i, result in _run(out, tasks, min(workers, max(len(tasks), 1))):
            if isinstance(result, Exception):
                made.failures.append(str(result))
                continue
            rows, n = result
            journal.write(csv_text(rows, header=False))
            journal.flush()
            os.fsync(journal.fileno())  # on disk before more work: a kill loses only images in flight
            for row in rows:
                made.changed += row[0] in records and records[row[0]] != row
                made.finished[row[0]] = row
            made.written += n
            bar.update(len(rows))
            bar.set_postfix(written=made.written, images_failed=len(made.failures), refresh=False)
    return made


def _report(made: _Made, n_tasks: int, out: Path) -> None:
    """Raise for the images that failed; warn about patches that differ from their earlier record."""
    if made.failures:
        raise ImageError(
            f"{len(made.failures)} of {n_tasks} source images could not be prepared (the other "
            "patches are done and recorded; fix these files and rerun to finish):\n  "
            + "\n  ".join(made.failures)
        )
    if made.changed:
        warnings.warn(  # stacklevel 3: the warning names the line that called prepare_sidd_medium
            f"{made.changed} patches differ from their earlier record in {out}: the source images, the "
            "PNG encoder (Pillow/zlib) or NumPy's random draws changed since; so does the manifest "
            "checksum", stacklevel=3,
        )


def _write_manifest(out: Path, rows: list[Record]) -> str:
    """Write the manifest (in plan order) and its checksum file, remove the journal; the manifest's sha256."""
    write_text_atomic(out / MANIFEST, csv_text(rows))
    digest = sha256_or_none(out / MANIFEST)
    write_text_atomic(out / MANIFEST_SHA256, f"{digest}  {MANIFEST}\n")
    (out / JOURNAL).unlink(missing_ok=True)
    return digest
