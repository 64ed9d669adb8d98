"""The records of a folder of SIDD-Medium patches: its settings, its manifest and journal, its lock.

Files kept in the output folder of ``invdn.data.benchmarks.sidd.prepare_sidd_medium`` (how a
rerun uses them: that module's docstring)::

    out/prepare.json                           the settings; a rerun with other settings is refused
    out/manifest.csv, out/manifest.sha256      the record of finished patches, and its checksum
    out/manifest.partial.csv                   the journal: rows appended as images finish
    out/.prepare.lock                          held (flock) while a run writes the folder

A row (``COLUMNS``) names the patch, its two sources relative to the root (so the manifest is
portable), its box and the sha256 of its three files (Noisy, GT, LQ: ``SUBFOLDERS``' order).
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from invdn.atomic import write_text_atomic
from invdn.data.benchmarks.sidd_plan import Crop
from invdn.data.manifest import sha256_file
from invdn.data.pairs import CLEAN, LQ, NOISY, DataLayoutError

try:  # advisory lock against two runs writing one folder; POSIX only
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

MANIFEST = "manifest.csv"
MANIFEST_SHA256 = "manifest.sha256"
JOURNAL = "manifest.partial.csv"
SETTINGS = "prepare.json"
_LOCK = ".prepare.lock"
COLUMNS = (
    "name", "source_noisy", "source_gt", "top", "left", "height", "width",
    "sha256_noisy", "sha256_gt", "sha256_lq",
)
SUBFOLDERS = (NOISY, CLEAN, LQ)  # in the order of the three hash columns
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def planned_fields(crop: Crop) -> tuple[str, ...]:
    """The first 7 manifest fields; sources relative to the root, so the manifest is portable."""
    image = crop.image
    return (crop.name, f"{image.instance}/{image.noisy.name}", f"{image.instance}/{image.clean.name}",
            *(str(v) for v in crop.box))


def sha256_or_none(path: Path) -> str | None:
    """sha256 of a file, or None when it does not exist (yet)."""
    try:
        return sha256_file(path)
    except FileNotFoundError:
        return None


def check_settings(out: Path, settings: dict) -> None:
    """Write ``out/prepare.json`` holding ``settings``, or check that the one there holds them.

    Raises:
        DataLayoutError: ``out`` was prepared with other settings (every difference is named), its
            ``prepare.json`` is unreadable, or ``out`` holds files but no ``prepare.json``.
    """
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


def check_no_strays(out: Path, root: Path, names: set[str]) -> None:
    """Raise DataLayoutError when ``out`` holds patch files whose stem is not in ``names`` (the plan):
    patches of images since removed from ``root`` would otherwise be mixed in silently."""
    strays = [p for sub in SUBFOLDERS if (out / sub).is_dir() for p in sorted((out / sub).iterdir())
              if p.suffix.lower() == ".png" and not p.name.startswith(".") and p.stem not in names]
    if strays:
        raise DataLayoutError(
            f"{out}: {len(strays)} patch files are not in the current plan (e.g. {strays[0]}); {root} "
            "has changed since they were made (images removed?): write to a new output folder"
        )


def read_rows(path: Path) -> tuple[list[tuple[str, ...]], int]:
    """Valid rows of a manifest or journal and the number of invalid ones (a torn last line is one)."""
    if not path.is_file():
        return [], 0
    with open(path, newline="", encoding="utf-8") as f:
        lines = list(csv.reader(f))
    if not lines or tuple(lines[0]) != COLUMNS:
        return [], len(lines)
    good = [tuple(r) for r in lines[1:] if len(r) == len(COLUMNS) and all(_HEX64.match(h) for h in r[7:])]
    return good, len(lines) - 1 - len(good)


def csv_text(rows: Iterable[tuple[str, ...]], header: bool = True) -> str:
    """``rows`` as CSV text with ``\\n`` line ends, after the ``COLUMNS`` header unless ``header`` is False."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if header:
        writer.writerow(COLUMNS)
    writer.writerows(rows)
    return buf.getvalue()


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold ``out``'s lock file for the block.

    Raises:
        DataLayoutError: another run holds it."""
    with open(out / _LOCK, "a") as f:
        if fcntl is not None:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise DataLayoutError(f"{out}: another prepare_sidd_medium is writing here; wait for it") from None
        yield


def open_journal(path: Path):
    """Append handle of the journal, created with its header; a torn last line is closed off first."""
    if path.is_file() and path.stat().st_size:
        with open(path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            torn = f.read(1) != b"\n"
        f = open(path, "a", newline="", encoding="utf-8")
        if torn:
            f.write("\n")
        return f
    write_text_atomic(path, csv_text([]))  # atomically: a torn header would void the whole journal
    return open(path, "a", newline="", encoding="utf-8")
