"""MLflow runs side by side: a table of the runs of an experiment, filtered, sorted and trimmed.

Backs ``invdn compare``. Columns are named as the user names them: a bare name is looked up among
the runs' metrics, then params, then tags (``psnr``, ``mc_samples``, ``variant``); a prefixed one
(``metrics.psnr``, ``params.seed``, ``tags.stage``) or an attribute (``run_id``, ``status``,
``start_time``) is taken as it is, and ``name`` is the run name.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

DEFAULT_TAGS = ("stage", "variant", "method", "mode")
"""Tags shown by default, when any matching run has them."""
DEFAULT_PARAMS = ("mc_samples",)
LEADING_METRICS = ("psnr", "ssim")
"""Metrics shown first; every other metric that a matching run holds follows, by name."""
RUN_NAME = "tags.mlflow.runName"
_PREFIXES = ("metrics.", "params.", "tags.")


class CompareError(ValueError):
    """A comparison that cannot be made: unknown store, experiment or column, or a bad filter."""


def _quote(value: str) -> str:
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise CompareError(f"tag value {value!r} holds both quote characters; use --filter instead")


def tag_filter(tags: Mapping[str, str]) -> str:
    """{"stage": "evaluate", "mode": "mc"} -> "tags.`stage` = 'evaluate' AND tags.`mode` = 'mc'"
    (keys in backticks, so keys with dots such as ``version.torch`` work)."""
    if any("`" in key for key in tags):
        raise CompareError(f"tag keys may not contain backticks: {list(tags)}")
    return " AND ".join(f"tags.`{key}` = {_quote(value)}" for key, value in tags.items())


def check_store(uri: str) -> None:
    # MLflow creates an empty sqlite store at a path that does not exist: refuse instead, so a typo
    # in the URI is an error and not an empty table (and no stray database file is written)
    if uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///"))
        if not path.is_file():
            raise CompareError(f"no MLflow store at {path} (tracking URI {uri}); give the store with --tracking-uri "
                               "or MLFLOW_TRACKING_URI")


def _resolve(name: str, frame: pd.DataFrame) -> str:
    """The search_runs column that a user-given column name means."""
    if name in ("name", "run_name"):
        return RUN_NAME
    if name in frame.columns:
        return name
    for prefix in _PREFIXES:
        if prefix + name in frame.columns:
            return prefix + name
    available = {p.rstrip("."): sorted(c.removeprefix(p) for c in frame.columns
                                       if c.startswith(p) and frame[c].notna().any()) for p in _PREFIXES}
    available["tags"] = [t for t in available["tags"] if not t.startswith(("mlflow.", "version."))]
    raise CompareError(f"no column {name!r} in the {len(frame)} matching run(s); "
                       + "; ".join(f"{kind}: {_listing(names)}" for kind, names in available.items()))


def _listing(names: list[str], most: int = 40) -> str:
    if not names:
        return "none"
    more = f", ... ({len(names) - most} more)" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def _has_values(frame: pd.DataFrame, column: str) -> bool:
    return column in frame.columns and frame[column].notna().any()


def default_columns(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """(shown name, column) pairs: run id, name, status, the DEFAULT_TAGS and DEFAULT_PARAMS that
    some run holds, psnr and ssim, then every other metric that some run holds, by name."""
    chosen = [("run_id", "run_id"), ("name", RUN_NAME), ("status", "status")]
    chosen += [(t, f"tags.{t}") for t in DEFAULT_TAGS if _has_values(frame, f"tags.{t}")]
    chosen += [(p, f"params.{p}") for p in DEFAULT_PARAMS if _has_values(frame, f"params.{p}")]
    metrics = [c.removeprefix("metrics.") for c in frame.columns if c.startswith("metrics.") and _has_values(frame, c)]
    ordered = [m for m in LEADING_METRICS if m in metrics] + sorted(m for m in metrics if m not in LEADING_METRICS)
    shown = {name for name, _ in chosen}
    chosen += [(m if m not in shown else f"metrics.{m}", f"metrics.{m}") for m in ordered]
    return chosen


def compare_runs(
    tracking_uri: str,
    experiment: str = "invdn-repro",
    filter_string: str = "",
    tags: Mapping[str, str] | None = None,
    sort: str | None = None,
    ascending: bool = False,
    columns: Sequence[str] | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """The active runs of ``experiment`` as a DataFrame, one row per run (``mlflow.search_runs``).

    Args:
        filter_string: an MLflow search filter, passed through (``"tags.stage = 'evaluate'"``).
        tags: {key: value} that must all match; ANDed with ``filter_string``.
        sort: the column to sort by (a metric name, or any column name as in the module docstring),
            descending unless ``ascending``; runs without a value come last. Default: newest first.
        columns: the columns to show, by name (module docstring); default :func:`default_columns`.
        limit: keep the first ``limit`` runs after sorting.

    Returns:
        A DataFrame whose columns are the names asked for; metric columns are float (NaN where a run
        lacks the metric), the others as MLflow returns them. Sets MLflow's tracking URI.

    Raises:
        CompareError: no store at a sqlite path, unknown experiment (the message lists those in the
            store), an invalid filter, or an unknown column or sort key.
    """
    import mlflow
    from mlflow.entities import ViewType
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    check_store(tracking_uri)
    client = MlflowClient(tracking_uri=tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        names = sorted(e.name for e in client.search_experiments(view_type=ViewType.ALL))
        raise CompareError(f"no experiment {experiment!r} in the MLflow store {tracking_uri}; it holds: "
                           f"{', '.join(names) or 'no experiments'}")
    # MLflow's filter grammar has AND only (no OR, no parentheses), so plain concatenation is exact
    filt = " AND ".join(p for p in (filter_string.strip(), tag_filter(tags or {})) if p)
    mlflow.set_tracking_uri(tracking_uri)
    try:
        frame = mlflow.search_runs(experiment_ids=[exp.experiment_id], filter_string=filt, output_format="pandas")
    except MlflowException as e:
        raise CompareError(f"MLflow refused the filter {filt!r}: {e.message}") from None
    if frame.empty:
        names = list(columns) if columns else [name for name, _ in default_columns(frame)]
        return pd.DataFrame(columns=names)
    if sort:
        key = _resolve(sort, frame)
        frame = frame.sort_values(key, ascending=ascending, na_position="last", kind="stable")
    if limit is not None:
        frame = frame.head(limit)
    chosen = [(name, _resolve(name, frame)) for name in columns] if columns else default_columns(frame)
    out = pd.DataFrame({name: frame[column].to_numpy() for name, column in chosen})
    return out.reset_index(drop=True)


def format_table(frame: pd.DataFrame) -> str:
    """``frame`` as an aligned plain-text table: run ids shortened to 8 characters, float columns
    to 4 decimals (columns of whole numbers, such as num_parameters, without), missing values blank."""
    shown = frame.copy()
    if "run_id" in shown.columns:
        shown["run_id"] = shown["run_id"].astype(str).str[:8]
    for column in shown.columns:
        values = shown[column]
        if pd.api.types.is_float_dtype(values):
            finite = values.dropna()
            whole = len(finite) > 0 and bool(((finite % 1) == 0).all()) and bool(finite.abs().lt(2**53).all())
            shown[column] = values.map(lambda v, w=whole: "" if pd.isna(v) else f"{v:.0f}" if w else f"{v:.4f}")
    return shown.to_string(index=False, na_rep="")
