"""A Snakemake invocation killed outright (SIGKILL, a pre-empted node, a closed laptop) leaves its
locks behind, and the next ``snakemake`` refuses to start until someone runs ``snakemake --unlock``.
This module lets the workflow tell such stale locks from those of a live run.

Each main Snakemake process of this workflow leaves an owner record,
``.snakemake/invdn-owners/<host>-<pid>.json`` (host, pid, the process's start time), when it parses
the Snakefile: before it takes Snakemake's locks, so any locks on disk were taken by a process with a
record. The record is removed when the process exits normally; a SIGKILL leaves it. At the next
start, :func:`clear_stale_locks` removes the locks (what ``snakemake --unlock`` does) only when every
record belongs to a process of this host that is gone; a live process's locks, or those of another
host (a shared file system), are left to Snakemake, which then refuses with its own message.
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

OWNERS = Path(".snakemake") / "invdn-owners"
LOCKS = Path(".snakemake") / "locks"


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), which
    tells a process from a later one that reuses its pid; None where /proc has no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # fields after the command name start at field 3


def process_alive(pid: int, start_time: str | None = None) -> bool:
    """Whether process ``pid`` of this host exists and (when ``start_time`` is given and /proc is
    readable) is the same process that had that start time."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    now = _start_time(pid)
    return start_time is None or now is None or now == start_time


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    start_time: str | None
    started: str
    path: Path

    def alive_here(self, host: str) -> bool:
        return self.host == host and process_alive(self.pid, self.start_time)

    def describe(self) -> str:
        return f"snakemake process {self.pid} on {self.host} (started {self.started})"


def _owners(workdir: Path) -> list[Owner]:
    out = []
    for path in sorted((workdir / OWNERS).glob("*.json")):
        try:
            rec = json.loads(path.read_text())
            out.append(Owner(rec["host"], int(rec["pid"]), rec.get("start_time"), rec.get("started", "?"), path))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a record cut short by the kill itself: it owns nothing we can name
    return out


def claim(workdir: Path = Path(".")) -> Path:
    """Leave this process's owner record (removed again at normal exit); returns its path."""
    pid = os.getpid()
    path = workdir / OWNERS / f"{socket.gethostname()}-{pid}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    rec = {"host": socket.gethostname(), "pid": pid, "start_time": _start_time(pid),
           "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rec))
    os.replace(tmp, path)
    atexit.register(lambda: path.unlink(missing_ok=True))
    return path


def clear_stale_locks(workdir: Path = Path(".")) -> list[str]:
    """Remove the locks of killed invocations of this host; returns one line per thing done or seen.

    Locks are removed only when there is at least one owner record and every record is of a process
    of this host that no longer exists. Records of gone processes are deleted whenever no live
    process of this host could still need them.
    """
    here = socket.gethostname()
    owners = _owners(workdir)
    live = [o for o in owners if o.alive_here(here)]
    elsewhere = [o for o in owners if o.host != here]
    dead = [o for o in owners if o.host == here and o not in live]
    locks = sorted((workdir / LOCKS).glob("*.lock")) if (workdir / LOCKS).is_dir() else []
    lines = []
    if locks and (live or elsewhere):
        for o in live + elsewhere:
            lines.append(f"invdn: {o.describe()} holds this folder's Snakemake lock; Snakemake will refuse "
                         "to start a second run on the same files: wait for it or stop it first")
    elif locks and dead:
        shutil.rmtree(workdir / LOCKS, ignore_errors=True)
        killed = ", ".join(o.describe() for o in dead)
        lines.append(f"invdn: removed the Snakemake lock left by {killed}, which is gone (killed); "
                     "its unfinished jobs rerun (rerun-incomplete) and trainings resume from their checkpoints")
    for o in dead:
        o.path.unlink(missing_ok=True)
    return lines


def on_dag_start(configured_uri: str | None) -> list[str]:
    """What a DAG invocation does before its first job: end FAILED the runs that processes of this
    host left RUNNING and that are gone (they are resumed by their jobs' reruns), and warn about a
    SQLite store on a network file system. Returns the lines to print."""
    from invdn.tracking import tracking_uri
    from invdn.tracking.filesystems import network_store_warning
    from invdn.tracking.store import repair_runs

    uri = tracking_uri(configured_uri)
    lines = []
    warning = network_store_warning(uri)
    if warning:
        lines.append(warning)
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        return lines  # a new store: nothing to repair (mlflow_init creates it)
    repaired = [r for r in repair_runs(uri) if r["action"] == "marked FAILED"]
    if repaired:
        names = ", ".join(r["name"] or r["run_id"] for r in repaired)
        lines.append(f"invdn: {len(repaired)} MLflow run(s) of killed jobs marked FAILED in {uri}: {names}")
    return lines
