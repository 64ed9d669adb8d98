"""One training per run folder at a time.

A snakemake killed alone (``kill -9`` of its pid, not its process group) leaves its jobs running; a
second training started on the same folder would then interleave checkpoints with the first. The
training holds an exclusive ``flock`` on ``<out_dir>/.train.lock`` while it runs
(released by the kernel when the process ends, however it ends), and a second one fails at once,
naming the first.
"""
from __future__ import annotations

import contextlib
import errno
import os
import socket
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:  # Windows: no flock; one training per folder is then the user's to ensure
    fcntl = None


@contextlib.contextmanager
def exclusive(out_dir: Path) -> Iterator[None]:
    """Hold ``<out_dir>/.train.lock`` for the duration (the file stays: removing a lock
    file another process may have opened would let two hold "the" lock).

    Raises:
        OSError(EBUSY): another live process holds it (its pid and host are named).
    """
    if fcntl is None:
        yield
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / ".train.lock"
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise OSError(errno.EBUSY, f"{out_dir} is being trained by {holder}; wait for it to finish or stop "
                                       f"it, then rerun (lock: {path})") from None
        f.seek(0)
        f.truncate()
        f.write(f"process {os.getpid()} on {socket.gethostname()}")
        f.flush()
        try:
            yield
        finally:
            f.seek(0)
            f.truncate()
