"""What the table builders share: how a cell prints a number, which value of a column is best, and how
the runs of one row are keyed by their training seed."""
from __future__ import annotations

from invdn.metrics.protocols import PROTOCOLS
from invdn.reporting.tracked import TableError

_INFERENCE = {"single": "single draw", "mc": "MC-{n}", "x8": "x8", "x8_mc": "x8 × MC-{n}"}


def inference(mode: str, mc_samples: int) -> str:
    """How a table names an inference mode, e.g. ``MC-16``."""
    return _INFERENCE[mode].format(n=mc_samples)


def fmt(value, digits: int) -> str:
    return "--" if value is None else f"{value:.{digits}f}"


def best(values: list[float | None], digits: int, lowest: bool = False) -> list[bool]:
    present = [round(v, digits) for v in values if v is not None]
    if not present:
        return [False] * len(values)
    target = min(present) if lowest else max(present)
    return [v is not None and round(v, digits) == target for v in values]


def by_seed(rows: list[dict], what: str) -> dict[int, dict]:
    """{train seed: run} of the runs of one row (a run without a training seed counts as seed 0)."""
    out: dict[int, dict] = {}
    for r in rows:
        seed = r["train_seed"] if r["train_seed"] is not None else 0
        if seed in out:
            raise TableError(f"{what}: two runs of training seed {seed}: {out[seed]['file']} and {r['file']}")
        out[seed] = r
    return out


def seed_of(record: dict, index: int) -> int:
    """The training seed of a record (its position when the record names none)."""
    return int(record["train_seed"]) if record.get("train_seed") is not None else index


def protocol_text(protocol: str) -> str:
    return f"{protocol} protocol ({PROTOCOLS[protocol].description.rstrip('.')})"
