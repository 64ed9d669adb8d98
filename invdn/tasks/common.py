"""What every task shares: where it records (``TrackingConfig``) and the one way a task that makes a
record opens its MLflow run, writes the record and logs its files (``record_run``)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from invdn.atomic import write_text_atomic


@dataclass(frozen=True)
class TrackingConfig:
    """Where runs are recorded: the MLflow store (``--tracking-uri``; None: $MLFLOW_TRACKING_URI,
    else the default sqlite file), the experiment, and extra tags (the workflow's rule and wildcards)."""

    uri: str | None = None
    experiment: str = "invdn-repro"
    tags: dict[str, str] = field(default_factory=dict)

    def resolved_uri(self) -> str:
        from invdn.tracking import tracking_uri

        return tracking_uri(self.uri)


def record_run(out: Path, run_name: str, params: dict, tags: dict, record: dict, metrics: dict[str, float],
               tracking: TrackingConfig, artifacts: list[tuple[Path, str | None]] = ()) -> dict:
    """Inside one tracked run: log ``params``, ``tags`` (over the tracking tags), ``metrics``; write
    ``record`` with the run's id to ``out`` (atomically) and log it and ``artifacts`` ((path, folder)
    pairs). Returns the record as written. The job is keyed by ``out``: a rerun after a kill or a
    failure continues the run the earlier attempt left unfinished, and a rerun with the same params
    and code continues its finished run (``invdn.tracking.jobs``): one run per output file.

    Raises:
        OSError: ``out`` cannot be written (named); the run then ends FAILED.
    """
    from invdn.tracking import MlflowLogger, tracked_run
    from invdn.tracking.jobs import job_key

    uri = tracking.resolved_uri()
    with tracked_run(uri, tracking.experiment, run_name, params, {**tags, **tracking.tags}, job_key(out),
                     rerun_finished=True) as run:
        logger = MlflowLogger()
        logger.log_metrics(metrics)
        record = {**record, "mlflow": {"tracking_uri": uri, "experiment": tracking.experiment,
                                       "run_id": run.info.run_id}}
        write_text_atomic(out, json.dumps(record, indent=1))
        logger.log_artifact(out)
        for path, folder in artifacts:
            logger.log_artifact(path, folder)
    return record
