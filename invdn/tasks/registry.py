"""The best trained model of a DAG run in the MLflow Model Registry, under an alias per preset.

Best: the highest mean PSNR among evaluation records of the main seeds (``invdn evaluate`` metrics
files, one per seed, scored on the same data in the same mode). Its training run (the evaluation
run's tag ``train_run_id``) logged the model ``runs:/<id>/model`` (``invdn.tasks.mlmodel``); that is
registered as a version of the registered model (default ``invdn``), or the version it already
is, and the alias (the preset: ``smoke``, ``paper``) is moved to it, so
``mlflow.pyfunc.load_model("models:/invdn@smoke")`` loads it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from invdn.atomic import write_text_atomic
from invdn.tasks.common import TrackingConfig


class RegistryError(ValueError):
    """Evaluation records that name no registrable model (the file and the reason named)."""


@dataclass(frozen=True)
class Candidate:
    """One evaluation record: its file, mean PSNR (dB), evaluation run and training run."""

    path: Path
    psnr: float
    eval_run_id: str
    train_run_id: str


def _candidate(path: Path, client) -> Candidate:
    try:
        record = json.loads(Path(path).read_text())
        psnr, run_id = float(record["mean"]["psnr"]), record["mlflow"]["run_id"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RegistryError(f"{path}: not an `invdn evaluate` metrics file ({type(e).__name__}: {e})") from None
    train_run_id = client.get_run(run_id).data.tags.get("train_run_id")
    if not train_run_id:
        raise RegistryError(f"{path}: its evaluation run {run_id} names no training run (tag train_run_id): "
                            "only models trained by `invdn train` can be registered")
    return Candidate(Path(path), psnr, run_id, train_run_id)


def register_best(metrics: list[Path], model_name: str, alias: str, out: Path, tracking: TrackingConfig) -> dict:
    """Register the model of the best of ``metrics`` (highest mean PSNR; ties: the first) as a version
    of ``model_name`` with ``alias``; write and return the record (name, version, alias, source,
    chosen file and PSNR, every candidate). The tracking tags are set on the version.

    Raises:
        RegistryError: no metrics files, a file that is not a metrics record, or one whose
            evaluation names no training run.
        MlflowException: the store refuses (e.g. an alias such as ``latest`` or ``v1``).
    """
    from mlflow.tracking import MlflowClient

    if not metrics:
        raise RegistryError("no metrics files given (--metrics)")
    uri = tracking.resolved_uri()
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    candidates = [_candidate(p, client) for p in metrics]
    best = max(candidates, key=lambda c: c.psnr)  # max keeps the first of equals
    source = f"runs:/{best.train_run_id}/model"
    existing = client.search_model_versions(f"name = '{model_name}' and run_id = '{best.train_run_id}'")
    if existing:
        version = str(max(int(v.version) for v in existing))
    else:
        version = _register(source, model_name, uri)
    client.set_registered_model_alias(model_name, alias, version)
    for key, value in {"psnr": f"{best.psnr:.4f}", "eval_run_id": best.eval_run_id, **tracking.tags}.items():
        client.set_model_version_tag(model_name, version, key, value)
    record = {"name": model_name, "version": version, "alias": alias, "source": source,
              "uri": f"models:/{model_name}@{alias}", "metrics": str(best.path), "psnr": best.psnr,
              "candidates": [{"metrics": str(c.path), "psnr": c.psnr, "train_run_id": c.train_run_id}
                             for c in candidates]}
    write_text_atomic(out, json.dumps(record, indent=1))
    return record


def _register(source: str, model_name: str, uri: str) -> str:
    """mlflow.register_model (which resolves runs:/ to the logged model) against ``uri``, leaving the
    process's global tracking and registry URIs as they were (a library call, tests in one process)."""
    import mlflow

    before = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        return str(mlflow.register_model(source, model_name).version)
    finally:
        mlflow.set_tracking_uri(before[0])
        mlflow.set_registry_uri(before[1])
