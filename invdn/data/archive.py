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

from invdn.atomic import write_atomic


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
            # (name, is a folder, is a link or special file, opener) of each member
            members = [(m.filename, m.is_dir(), (m.external_attr >> 16) & 0o170000 == 0o120000,
                        lambda m=m: zf.open(m)) for m in zf.infolist()]
            return _extract(archive, dest, members)
    if archive.is_file() and tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            members = [(m.name, m.isdir(), not (m.isfile() or m.isdir()), lambda m=m: tf.extractfile(m))
                       for m in tf.getmembers()]
            return _extract(archive, dest, members)
    raise ArchiveError(f"{archive}: not a zip or tar archive (expected e.g. SIDD_Medium_Srgb.zip)")


def _extract(archive: Path, dest: Path, members: list) -> list[Path]:
    """Check every member first (nothing written if one fails), then write the files atomically."""
    targets = []
    for name, is_dir, special, _ in members:
        target = _checked_target(archive, dest, name)
        if special:
            raise ArchiveError(f"{archive}: member {name!r} is a link or special file; refusing the whole archive")
        targets.append(target)
    written = []
    for (name, is_dir, _, open_member), target in zip(members, targets):
        if is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        write_atomic(target, lambda tmp, o=open_member: _copy(o(), tmp))
        written.append(target)
    return written


def _copy(src, tmp: str) -> None:
    with src, open(tmp, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
