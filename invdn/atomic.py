"""Atomic file writes: a temporary file in the target folder, renamed into place.

A reader (Snakemake, a resumed run, a table rule) therefore sees the old file or the new one,
never a half-written one, even when the writer is killed or the disk fills up.

An ``OSError`` on the way (no space left, a read-only or unwritable folder, a file where a folder
should be) is raised again as an ``OSError`` of the same errno, hence the same subclass
(``PermissionError``, ``NotADirectoryError``, ...), whose message names the destination and the
likely cause.
"""
from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import Callable

_DISK_FULL = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}
_NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}


def write_atomic(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` on a temporary sibling of ``path``, then rename it to ``path``.

    Creates missing parent folders. The file gets the permissions a plain ``open`` would give
    (0666 less the umask; ``mkstemp`` alone would leave 0600). On any error (or signal) the
    temporary file is removed and ``path`` is left as it was.

    Raises:
        OSError: the folder cannot be created, or the file cannot be written or renamed into
            place (disk full, permissions, ...): same errno as the original error, message naming
            ``path``. Other exceptions of ``write`` propagate unchanged.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _named(e, path, f"cannot create the folder {path.parent} for {path}") from e
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise _named(e, path, f"cannot write {path}") from e
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise _named(e, path, f"cannot write {path}", unchanged=True) from e
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        cause = _os_error_behind(e)
        if cause is not None:  # a library's own error raised while handling a full disk (torch.save)
            raise _named(cause, path, f"cannot write {path}", unchanged=True) from e
        raise


def _os_error_behind(e: BaseException) -> OSError | None:
    """The file-system error (with an errno) that ``e`` was raised while handling, if any: torch.save
    meets ENOSPC, then its zip writer's cleanup raises "RuntimeError: [enforce fail ...] unexpected
    pos", which hides the OSError."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno is not None:
            return e
        if not isinstance(e, Exception):  # a signal, Ctrl-C: not a file error
            return None
        e = e.__cause__ or e.__context__
    return None


def _named(e: OSError, path: Path, what: str, unchanged: bool = False) -> OSError:
    """``e`` again, as an OSError of the same errno whose message starts with ``what`` (naming ``path``).

    An OSError without an errno (a library's own error) is returned unchanged.
    """
    if e.errno is None:
        return e
    reason = e.strerror or str(e)
    if e.errno in _DISK_FULL:
        hint = "; the disk may be full (or over quota): free some space and run again"
    elif e.errno in _NOT_WRITABLE:
        hint = f"; check that {path.parent} exists and is writable by this user"
    elif e.errno in (errno.EEXIST, errno.ENOTDIR):
        blocker = next((p for p in (path.parent, *path.parent.parents) if p.exists() and not p.is_dir()), None)
        hint = f"; {blocker} is a file, not a folder: move it away or choose another output path" if blocker else ""
    elif e.errno == errno.EISDIR and path.is_dir():
        hint = f"; {path} is a folder: expected a file name"
    else:
        hint = ""
    if unchanged:
        hint += "; nothing was written" + (" (the earlier file is unchanged)" if path.is_file() else "")
    return OSError(e.errno, f"{what}: {reason}{hint}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
