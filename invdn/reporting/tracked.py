"""Reading what a table shows: a JSON an ``invdn`` command wrote, checked against the MLflow run it names.

A table never shows a number its tracked run does not hold: every value a table takes from a
metrics file is compared with the run's metric (to 1e-9), and a mismatch is an error naming both.
Paper numbers come from ``results/reference_numbers.yaml`` only (:func:`load_reference`).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable

from mlflow.tracking import MlflowClient

from invdn.config import ConfigError, load_yaml

TOLERANCE = 1e-9


class TableError(ValueError):
    """Inputs of a table that are missing or disagree; the message names the file and the values."""


def load_reference(path: str | Path) -> dict:
    """The papers' numbers (``results/reference_numbers.yaml``).

    Raises:
        TableError: unreadable, or without the top-level ``sources`` and ``table2``.
    """
    try:
        ref = load_yaml(path)
    except ConfigError as e:
        raise TableError(str(e)) from None
    if "table2" not in ref or "sources" not in ref:
        raise TableError(f"{path}: expected top-level keys 'sources' and 'table2'")
    return ref


def read_record(path: str | Path, kind: str) -> tuple[dict, str]:
    """A JSON written by an ``invdn`` command, and the MLflow run id it names.

    Raises:
        TableError: unreadable, not JSON, or without ``mlflow.run_id``.
    """
    path = Path(path)
    try:
        record = json.loads(path.read_text())
        return record, record["mlflow"]["run_id"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise TableError(f"{path}: not a {kind} file with an MLflow run id ({e})") from None


def checked(path: str | Path, kind: str, client: MlflowClient, values: Callable[[dict], dict[str, float]]):
    """(record, run) of a JSON whose ``values(record)`` ({metric: value}) each equal the run's metric.

    Raises:
        TableError: unreadable JSON, a run missing from the store, or a value that differs.
    """
    path = Path(path)
    record, run_id = read_record(path, kind)
    try:
        run = client.get_run(run_id)
    except Exception as e:
        raise TableError(f"{path}: MLflow run {run_id} not found in the store ({e})") from None
    for key, local in values(record).items():
        tracked = run.data.metrics.get(key)
        if tracked is None or not math.isclose(tracked, local, rel_tol=0, abs_tol=TOLERANCE):
            raise TableError(f"{path}: {key} is {local} but MLflow run {run_id} holds {tracked}")
    return record, run


def _train_seed(record: dict, params: dict) -> int | None:
    if record.get("train_seed") is not None:
        return int(record["train_seed"])
    return int(params["train.seed"]) if "train.seed" in params else None


def metrics_row(path: str | Path, client: MlflowClient, protocol: str = "canonical") -> dict:
    """One evaluation (``invdn evaluate`` / ``evaluate-baseline`` JSON) under ``protocol``, checked
    against its MLflow run: the means, the per-image values, and what identifies the row.

    Raises:
        TableError: the JSON or its run is unreadable, a value differs, or the protocol is not recorded.
    """
    path = Path(path)

    def expected(record: dict) -> dict[str, float]:
        entry = record.get("protocols", {}).get(protocol)
        if entry is None:
            raise TableError(f"{path}: no scores under protocol {protocol!r} (has {', '.join(record.get('protocols', {}))})")
        return {"psnr": record["mean"]["psnr"], "ssim": record["mean"]["ssim"],
                "num_parameters": record["num_parameters"], f"psnr_{protocol}": entry["psnr"],
                f"ssim_{protocol}": entry["ssim"]}

    record, run = checked(path, "metrics", client, expected)
    params = run.data.params
    for key in ("mode", "mc_samples", "seed"):
        if params.get(key) != str(record[key]):
            raise TableError(f"{path}: {key} is {record[key]} but MLflow run {run.info.run_id} holds {params.get(key)}")
    images = record.get("images", [])
    return {
        "file": str(path),
        "run_id": run.info.run_id,
        "method": record.get("method", "invdn"),
        "label": record.get("label", "InvDN"),
        "released": record.get("released"),
        "mode": record["mode"],
        "mc_samples": int(record["mc_samples"]),
        "seed": int(record["seed"]),
        "train_seed": _train_seed(record, params),
        "protocol": protocol,
        "psnr": record["protocols"][protocol]["psnr"],
        "ssim": record["protocols"][protocol]["ssim"],
        "per_image": {i["name"]: i["protocols"][protocol]["psnr"] for i in images},
        "per_image_ssim": {i["name"]: i["protocols"][protocol]["ssim"] for i in images},
        "num_parameters": int(record["num_parameters"]),
        "scale": run.data.tags.get("scale", record.get("scale", "custom")),
        "variant": run.data.tags.get("variant", "custom"),
        "train": {k.removeprefix("train."): v for k, v in params.items() if k.startswith("train.")},
        "data_name": record.get("data_name", record.get("data", "")),
        "num_images": record.get("num_images"),
        "checkpoint": record.get("checkpoint"),
        "train_step": record.get("train_step"),
    }


def profile_row(path: str | Path, client: MlflowClient) -> dict:
    """An ``invdn profile`` JSON checked against its run (GMAC and parameters)."""
    record, run = checked(path, "profile", client, lambda r: {"gmac": r["gmac"], "parameters": r["parameters"]})
    return {"gmac": record["gmac"], "parameters": int(record["parameters"]), "size": record["size"],
            "run_id": run.info.run_id}
