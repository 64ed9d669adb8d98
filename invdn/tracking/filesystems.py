"""Which file system holds the MLflow store: a SQLite store on a network file system (NFS, SMB,
Lustre, ...) is a hazard MLflow's and SQLite's documentation name (POSIX locks that the server may
not honour, so parallel jobs can corrupt the database). docs/cluster.md says what to use instead."""
from __future__ import annotations

from pathlib import Path

NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "lustre", "gpfs", "beegfs", "glusterfs", "ceph", "fuse.sshfs",
    "fuse.glusterfs", "fuse.cephfs", "9p", "afs", "ocfs2", "panfs", "wekafs",
})


def _unescape(field: str) -> str:
    """/proc/mounts writes spaces, tabs and newlines in paths as octal escapes."""
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def filesystem_type(path: str | Path, mounts: str | None = None) -> str | None:
    """The type of the file system holding ``path`` (the longest mount point above it), read from
    ``mounts`` (the text of /proc/mounts; read from the system when None); None where unknown."""
    if mounts is None:
        try:
            mounts = Path("/proc/mounts").read_text()
        except OSError:
            return None
    target = Path(path).absolute()
    best, best_type = None, None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = Path(_unescape(fields[1]))
        if (target == point or point in target.parents) and (best is None or len(point.parts) > len(best.parts)):
            best, best_type = point, fields[2]
    return best_type


def network_store_warning(uri: str, mounts: str | None = None) -> str | None:
    """A one-line warning when ``uri`` is a SQLite store on a network file system, else None."""
    if not uri.startswith("sqlite:///"):
        return None
    db = Path(uri.removeprefix("sqlite:///"))
    fs = filesystem_type(db.parent if not db.exists() else db, mounts)
    if fs is None or fs not in NETWORK_FILESYSTEMS:
        return None
    return (f"invdn: warning: the MLflow store {db} is a SQLite file on a network file system ({fs}); parallel "
            "jobs can corrupt it there. Use a store on local disk or an MLflow server (docs/cluster.md)")
