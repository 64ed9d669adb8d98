"""The cost of each training and evaluation job as Snakemake measured it: its ``benchmark:`` files as one table.

Snakemake writes one TSV per job (a header, then one row per repeat) with the wall time ``s`` (seconds),
the peak resident memory ``max_rss`` (MB) and the CPU time ``cpu_time`` (seconds, user + system). It
samples memory and CPU once a second for the first 30 s, then every 30 s, so a job shorter than its first
sample has ``NA`` there; the table shows those as "–".
"""
from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

from invdn.reporting.table import Table
from invdn.reporting.tracked import TableError


def _number(value: str | None) -> float | None:
    return None if value in (None, "", "NA", "-") else float(value)


def read_benchmark(path: str | Path) -> dict[str, float | None]:
    """One job's figures from its Snakemake benchmark TSV: ``seconds`` (wall time, mean over repeats),
    ``max_rss_mb`` (peak resident memory, MB, largest over repeats) and ``cpu_seconds`` (mean); None
    where Snakemake recorded nothing (NA). Raises TableError naming the file when it has no row or
    lacks the ``s`` column."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows or "s" not in rows[0]:
        raise TableError(f"{path}: not a Snakemake benchmark file (expected a header with `s` and one row per run)")
    seconds = [_number(r["s"]) for r in rows]
    rss = [v for v in (_number(r.get("max_rss")) for r in rows) if v is not None]
    cpu = [v for v in (_number(r.get("cpu_time")) for r in rows) if v is not None]
    return {"seconds": sum(seconds) / len(seconds), "max_rss_mb": max(rss) if rss else None,
            "cpu_seconds": sum(cpu) / len(cpu) if cpu else None}


def benchmark_labels(files: list[str | Path], root: str | Path) -> dict[str, Path]:
    """{label: file}: each file's path below ``root`` without ``.tsv`` (e.g. ``train/invdn/seed0/model``).
    Raises TableError for a file outside ``root``."""
    out = {}
    for f in map(Path, files):
        try:
            rel = f.relative_to(root)
        except ValueError:
            raise TableError(f"benchmark file {f} is not under --root {root}") from None
        out[str(rel.with_suffix(""))] = f
    return out


def benchmark_table(files: Mapping[str, str | Path]) -> Table:
    """The table of {job label: benchmark TSV}, one row per job in label order: wall time (s), peak
    RSS (MB), CPU time (s) and CPU time / wall time (the cores the job kept busy on average). Full text
    width (``table*``): the job names are paths. The CSV keeps each label as given (column ``job``)."""
    cells, csv_rows = [], []
    for label in sorted(files):
        b = read_benchmark(files[label])
        busy = b["cpu_seconds"] / b["seconds"] if b["cpu_seconds"] is not None and b["seconds"] > 0 else None
        # spaced, so that LaTeX may break a long path (an ablation variant's) at a slash or a hyphen
        cells.append([label.replace("/", " / "), f"{b['seconds']:.1f}", _fmt(b["max_rss_mb"], ".0f"), _fmt(b["cpu_seconds"], ".1f"),
                      _fmt(busy, ".2f")])
        csv_rows.append({"job": label, "seconds": b["seconds"], "max_rss_mb": b["max_rss_mb"],
                         "cpu_seconds": b["cpu_seconds"], "cores_busy": busy, "file": str(files[label])})
    caption = ("Wall time and peak memory of each training and evaluation job, from Snakemake's benchmark files: "
               "wall clock (s), peak resident memory (MB), CPU time (s, user + system) and CPU time / wall time. "
               "– where a job ended before Snakemake's first sample. Figures of this machine under its load at the time.")
    return Table(["Job", "Wall (s)", "Max RSS (MB)", "CPU (s)", "Cores busy"], cells, caption, "tab:benchmarks",
                 "`invdn table benchmarks` from Snakemake's benchmark files", csv_rows, align="p{7cm}rrrr", wide=True)


def _fmt(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)
