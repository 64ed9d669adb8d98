"""SIDD-Medium sRGB -> InvDN training patches (Noisy/, GT/, LQ/), deterministic and resumable.

Source layout (SIDD website, "SIDD-Medium Dataset", sRGB part; A. Abdelhamed, S. Lin, M. S. Brown,
*A High-Quality Denoising Dataset for Smartphone Cameras*, CVPR 2018)::

    SIDD_Medium_Srgb/Data/                          <- ``root``
        0001_001_S6_00100_00060_3200_L/             one folder per scene instance (160 in all)
            0001_GT_SRGB_010.PNG   0001_NOISY_SRGB_010.PNG    two noisy/clean pairs each,
            0001_GT_SRGB_011.PNG   0001_NOISY_SRGB_011.PNG    8-bit RGB, about 5000x3000

Output layout (the one ``pairs.find_pairs(out, require_lq=True)`` reads; as the bundled SIDD_mini)::

    out/Noisy/<name>.PNG  out/GT/<name>.PNG    patch x patch crops at the same box
    out/LQ/<name>.PNG                          the GT crop, MATLAB-bicubic downscaled by 4 (make_lq)
    out/prepare.json                           the settings; a rerun with other settings is refused
    out/manifest.csv, out/manifest.sha256      the record of finished patches, and its checksum

with ``<name> = <instance folder>_<010|011>_<k:03d>``.

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

import csv
import hashlib
import io
import json
import os
import re
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from ..atomic import write_atomic, write_text_atomic
from .io import ImageError, read_rgb
from .manifest import sha256_file
from .pairs import CLEAN, LQ, NOISY, DataLayoutError
from .resize import make_lq

try:  # advisory lock against two runs writing one folder; POSIX only
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

LQ_SCALE = 4  # LQ = clean / 4, as make_lq's default and the bundled LQ files
MANIFEST = "manifest.csv"
MANIFEST_SHA256 = "manifest.sha256"
JOURNAL = "manifest.partial.csv"
SETTINGS = "prepare.json"
_LOCK = ".prepare.lock"
COLUMNS = (
    "name", "source_noisy", "source_gt", "top", "left", "height", "width",
    "sha256_noisy", "sha256_gt", "sha256_lq",
)
_SUBFOLDERS = (NOISY, CLEAN, LQ)  # in the order of the three hash columns
_EXPECTED = (
    "expected ROOT/<scene instance>/<scene>_NOISY_SRGB_<010|011>.PNG with "
    "<scene>_GT_SRGB_<010|011>.PNG beside it, e.g. SIDD_Medium_Srgb/Data/"
    "0001_001_S6_00100_00060_3200_L/0001_NOISY_SRGB_010.PNG (pass the Data folder as ROOT)"
)
_SRGB_FILE = re.compile(r"^(?P<scene>.+)_(?P<kind>GT|NOISY)_SRGB_(?P<index>\d{3})\.png$", re.IGNORECASE)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


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


# ------------------------------------------------------------------------------------- preparation

def _planned_fields(crop: Crop) -> tuple[str, ...]:
    """The first 7 manifest fields; sources relative to the root, so the manifest is portable."""
    image = crop.image
    return (crop.name, f"{image.instance}/{image.noisy.name}", f"{image.instance}/{image.clean.name}",
            *(str(v) for v in crop.box))


def _sha256_file(path: Path) -> str | None:
    """sha256 of a file, or None when it does not exist (yet)."""
    try:
        return sha256_file(path)
    except FileNotFoundError:
        return None


def _write_png(path: Path, image: np.ndarray) -> str:
    """Encode (H, W, 3) uint8 as PNG (as ``io.write_rgb``), write it atomically, return its sha256."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    data = buf.getvalue()
    write_atomic(path, lambda tmp: Path(tmp).write_bytes(data))
    return hashlib.sha256(data).hexdigest()


def _prepare_image(out: Path, todo: list[tuple[Crop, tuple[str, ...] | None]]) -> tuple[list[tuple[str, ...]], int]:
    """Worker: verify or make the patches of one image. ``todo``: (crop, recorded row or None).

    Reads the source pair (once) only if some file is missing or fails its recorded hash.
    Returns (manifest rows in the order of ``todo``, number of patches with a file written).
    """
    rows, written = [], 0
    sources = None
    for crop, record in todo:
        paths = [out / sub / f"{crop.name}.PNG" for sub in _SUBFOLDERS]
        hashes = [None] * 3 if record is None else [
            h if _sha256_file(p) == h else None for p, h in zip(paths, record[7:])
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
        rows.append(_planned_fields(crop) + tuple(hashes))
    return rows, written


def _settings(root: Path, patch: int, per_image: int, seed: int, stride: int | None) -> dict:
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


def _check_settings(out: Path, settings: dict) -> None:
    path = out / SETTINGS
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as e:
            raise DataLayoutError(f"{path}: unreadable ({e}); delete {out} to start over") from None
        if old != settings:
            diff = ", ".join(f"{k}: {old.get(k)!r} there, {settings.get(k)!r} now"
                             for k in sorted(set(old) | set(settings)) if old.get(k) != settings.get(k))
            raise DataLayoutError(
                f"{path}: {out} was prepared with other settings ({diff}); patches of two settings "
                f"must not be mixed: write to another output folder, or delete {out} to start over"
            )
        return
    others = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    if others:
        raise DataLayoutError(
            f"{out}: not empty ({', '.join(others[:5])}) and holds no {SETTINGS}, so it was not made by "
            "prepare_sidd_medium; choose a new or empty output folder"
        )
    write_text_atomic(path, json.dumps(settings, indent=2, sort_keys=True) + "\n")


def _check_no_strays(out: Path, root: Path, names: set[str]) -> None:
    strays = [p for sub in _SUBFOLDERS if (out / sub).is_dir() for p in sorted((out / sub).iterdir())
              if p.suffix.lower() == ".png" and not p.name.startswith(".") and p.stem not in names]
    if strays:
        raise DataLayoutError(
            f"{out}: {len(strays)} patch files are not in the current plan (e.g. {strays[0]}); {root} "
            "has changed since they were made (images removed?): write to a new output folder"
        )


def _read_rows(path: Path) -> tuple[list[tuple[str, ...]], int]:
    """Valid rows of a manifest or journal and the number of invalid ones (a torn last line is one)."""
    if not path.is_file():
        return [], 0
    with open(path, newline="", encoding="utf-8") as f:
        lines = list(csv.reader(f))
    if not lines or tuple(lines[0]) != COLUMNS:
        return [], len(lines)
    good = [tuple(r) for r in lines[1:] if len(r) == len(COLUMNS) and all(_HEX64.match(h) for h in r[7:])]
    return good, len(lines) - 1 - len(good)


def _csv_text(rows, header: bool = True) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if header:
        writer.writerow(COLUMNS)
    writer.writerows(rows)
    return buf.getvalue()


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    with open(out / _LOCK, "a") as f:
        if fcntl is not None:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise DataLayoutError(f"{out}: another prepare_sidd_medium is writing here; wait for it") from None
        yield


def _open_journal(path: Path):
    """Append handle of the journal, created with its header; a torn last line is closed off first."""
    if path.is_file() and path.stat().st_size:
        with open(path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            torn = f.read(1) != b"\n"
        f = open(path, "a", newline="", encoding="utf-8")
        if torn:
            f.write("\n")
        return f
    write_text_atomic(path, _csv_text([]))  # atomically: a torn header would void the whole journal
    return open(path, "a", newline="", encoding="utf-8")


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
    ``manifest.csv`` (columns ``COLUMNS``, rows in plan order, sources relative to ``root``,
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
    if patch % LQ_SCALE:
        raise ValueError(f"patch must be divisible by {LQ_SCALE} (LQ = patch / {LQ_SCALE}), got {patch}")
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    images = find_sidd_medium(root)
    crops = plan_crops(images, image_sizes(images), patch, per_image, seed, stride)
    out.mkdir(parents=True, exist_ok=True)
    with _locked(out):
        _check_settings(out, _settings(root, patch, per_image, seed, stride))
        _check_no_strays(out, root, {c.name for c in crops})
        manifest_rows, bad = _read_rows(out / MANIFEST)
        if bad:
            warnings.warn(f"{out / MANIFEST}: {bad} unreadable rows; their patches are redone", stacklevel=2)
        records = {r[0]: r for r in manifest_rows + _read_rows(out / JOURNAL)[0]}  # journal is newer

        by_image: dict[str, list] = {}
        for crop in crops:
            record = records.get(crop.name)
            trusted = record if record is not None and record[:7] == _planned_fields(crop) else None
            by_image.setdefault(crop.image.name, []).append((crop, trusted))
        tasks = list(by_image.values())

        finished: dict[str, tuple[str, ...]] = {}
        failures: list[str] = []
        written = changed = 0
        with _open_journal(out / JOURNAL) as journal, tqdm(
            total=len(crops), unit="patch", desc="SIDD-Medium patches", disable=not progress
        ) as bar:
            for i, result in _run(out, tasks, min(workers, max(len(tasks), 1))):
                if isinstance(result, Exception):
                    failures.append(str(result))
                    continue
                rows, n = result
                journal.write(_csv_text(rows, header=False))
                journal.flush()
                os.fsync(journal.fileno())
                for row in rows:
                    changed += row[0] in records and records[row[0]] != row
                    finished[row[0]] = row
                written += n
                bar.update(len(rows))
                bar.set_postfix(written=written, images_failed=len(failures), refresh=False)
        if failures:
            raise ImageError(
                f"{len(failures)} of {len(tasks)} source images could not be prepared (the other "
                "patches are done and recorded; fix these files and rerun to finish):\n  "
                + "\n  ".join(failures)
            )
        if changed:
            warnings.warn(
                f"{changed} patches differ from their earlier record in {out}: the source images, the "
                "PNG encoder (Pillow/zlib) or NumPy's random draws changed since; so does the manifest "
                "checksum", stacklevel=2,
            )
        write_text_atomic(out / MANIFEST, _csv_text(finished[c.name] for c in crops))
        digest = _sha256_file(out / MANIFEST)
        write_text_atomic(out / MANIFEST_SHA256, f"{digest}  {MANIFEST}\n")
        (out / JOURNAL).unlink(missing_ok=True)
    return PrepareResult(out, out / MANIFEST, digest, len(images), len(crops), written,
                         len(crops) - written, changed)
