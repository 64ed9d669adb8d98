"""Unpacking the official downloads (SIDD_Medium_Srgb.zip, DND's zip) without trusting their member names.

Every member is checked before anything is written: a name that is absolute, contains ``..``, or
would land outside the target folder once resolved, and (tar) any link or device member, refuses
the whole archive (the "zip slip" class of attacks). Files are written atomically, so an
interrupted extraction leaves no half-written file; rerunning it rewrites what is missing.
"""
from __future__ import annotations

import os
import shutil
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from ..atomic import write_atomic


class ArchiveError(ValueError):
    """An archive that cannot be extracted safely; the message names the archive and the member."""


def _checked_target(archive: Path, dest: Path, name: str) -> Path:
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or (pure.parts and pure.parts[0].endswith(":")):
        raise ArchiveError(f"{archive}: member {name!r} would be written outside {dest} (absolute path or '..'); "
                           "refusing the whole archive")
    target = (dest / pure).resolve()
    if target != dest and dest not in target.parents:
        raise ArchiveError(f"{archive}: member {name!r} resolves to {target}, outside {dest}; refusing the whole archive")
    return target


def extract_archive(archive: str | os.PathLike, dest: str | os.PathLike) -> list[Path]:
    """Extract a .zip or .tar(.gz/.bz2/.xz) into ``dest`` after checking every member; returns the files.

    Raises:
        ArchiveError: not a zip or tar file, or a member that would escape ``dest`` (absolute
            path, ``..``, a symlink or hard link, a device), checked before anything is written.
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    dest = dest.resolve()
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            members = [(m, _checked_target(archive, dest, m.filename)) for m in zf.infolist()]
            for info, target in members:
                if (info.external_attr >> 16) & 0o170000 == 0o120000:  # a symlink stored by Unix zip
                    raise ArchiveError(f"{archive}: member {info.filename!r} is a symbolic link; refusing the whole archive")
            written = []
            for info, target in members:
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                write_atomic(target, lambda tmp, i=info: _copy(zf.open(i), tmp))
                written.append(target)
            return written
    if archive.is_file() and tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            members = [(m, _checked_target(archive, dest, m.name)) for m in tf.getmembers()]
            for m, _ in members:
                if not (m.isfile() or m.isdir()):
                    raise ArchiveError(f"{archive}: member {m.name!r} is a link or special file; refusing the whole archive")
            written = []
            for m, target in members:
                if m.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                write_atomic(target, lambda tmp, mm=m: _copy(tf.extractfile(mm), tmp))
                written.append(target)
            return written
    raise ArchiveError(f"{archive}: not a zip or tar archive (expected e.g. SIDD_Medium_Srgb.zip)")


def _copy(src, tmp: str) -> None:
    with src, open(tmp, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
