"""Artifact links after moving the results folder: ``invdn runs relocate``.

An MLflow store keeps absolute artifact locations (an experiment's ``artifact_location``, each run's
``artifact_uri``, each logged model's location), so a moved checkout or results folder leaves them
pointing at the old place. Relocating rewrites, in the sqlite store, every ``file:`` location of an
experiment's artifact folder to the same folder under the new artifact root (default: ``mlartifacts``
beside the store's file, where ``results/mlflow.db`` keeps ``results/mlartifacts``). Experiment
folders keep their names; only the part up to them changes. Remote stores (a tracking server) and
non-file locations are left alone: a server serves its artifacts wherever it is.

Jobs' keys move with it: a run's ``job.key`` tag (``invdn.tracking.jobs``) is the absolute path of
what the job writes, so after a move an unfinished job would open a new run instead of continuing its
own. Where the old location was the default one (``<results>/mlartifacts/<experiment>``), every
``job.key`` under the old ``<results>`` folder is rewritten to the same path under the store's folder
now. Keys elsewhere, or hashed ones (a path with a quote), are left alone.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import unquote, urlparse

from invdn.tracking.jobs import KEY_TAG


class RelocateError(ValueError):
    """A store that cannot be relocated (not a sqlite file, or missing): the store and the fix named."""


def _text_columns(con: sqlite3.Connection) -> list[tuple[str, str]]:
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return [(t, c[1]) for t in tables for c in con.execute(f'PRAGMA table_info("{t}")')
            if any(k in (c[2] or "").upper() for k in ("CHAR", "TEXT", "CLOB"))]


def relocate(uri: str, artifact_root: str | Path | None = None, dry_run: bool = False) -> list[dict]:
    """Point the file artifact locations of the sqlite store ``uri`` at ``artifact_root``/<experiment
    folder>, and its jobs' keys at the store's folder (module docstring); one dict per experiment whose
    location changes (experiment, old, new, rows: locations rewritten, job_keys: keys rewritten).

    Raises:
        RelocateError: ``uri`` is not ``sqlite:///<file>``, or the file does not exist.
    """
    if not uri.startswith("sqlite:///"):
        raise RelocateError(f"{uri}: only a sqlite store (sqlite:///<file>) keeps file locations to rewrite; "
                            "a tracking server serves its artifacts wherever they are")
    db = Path(uri.removeprefix("sqlite:///"))
    if not db.is_file():
        raise RelocateError(f"{db}: no such store; pass --tracking-uri sqlite:///<path of mlflow.db>")
    root = Path(artifact_root).resolve() if artifact_root else db.resolve().parent / "mlartifacts"
    report = []
    with sqlite3.connect(db) as con:
        columns = _text_columns(con)
        for name, old in con.execute("SELECT name, artifact_location FROM experiments").fetchall():
            if not (old or "").startswith("file:"):
                continue
            new = (root / Path(unquote(urlparse(old).path)).name).as_uri()
            if new == old:
                continue
            rows = 0
            for table, column in columns:
                where = f'WHERE "{column}" = ? OR substr("{column}", 1, ?) = ?'
                args = (old, len(old) + 1, old + "/")
                rows += con.execute(f'SELECT count(*) FROM "{table}" {where}', args).fetchone()[0]
                if not dry_run:
                    con.execute(f'UPDATE "{table}" SET "{column}" = ? || substr("{column}", ?) {where}',
                                (new, len(old) + 1, *args))
            report.append({"experiment": name, "old": old, "new": new, "rows": rows,
                           "job_keys": _move_job_keys(con, name, Path(unquote(urlparse(old).path)),
                                                      db.resolve().parent, dry_run)})
    return report


def _move_job_keys(con: sqlite3.Connection, experiment: str, old_location: Path, results: Path,
                   dry_run: bool) -> int:
    """Rewrite the experiment's ``job.key`` tags under the results folder that held ``old_location``
    (``<results>/mlartifacts/<experiment>``) to the same paths under ``results``; the count."""
    if old_location.parent.name != "mlartifacts" or old_location.parent.parent == results:
        return 0
    old_prefix = str(old_location.parent.parent) + "/"
    where = ('WHERE key = ? AND substr(value, 1, ?) = ? AND run_uuid IN (SELECT run_uuid FROM runs '
             'WHERE experiment_id = (SELECT experiment_id FROM experiments WHERE name = ?))')
    args = (KEY_TAG, len(old_prefix), old_prefix, experiment)
    count = con.execute(f"SELECT count(*) FROM tags {where}", args).fetchone()[0]
    if not dry_run:
        con.execute(f"UPDATE tags SET value = ? || substr(value, ?) {where}",
                    (str(results) + "/", len(old_prefix) + 1, *args))
    return count
