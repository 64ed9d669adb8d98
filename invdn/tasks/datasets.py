"""The data of a training as MLflow datasets: one table per folder (a row per pair: its name and each
file's path and sha256), whose digest is the folder's manifest hash, logged with ``mlflow.log_input``
in the contexts ``training`` and ``validation``. MLflow caps a digest at 36 characters, so the digest
is the first 36 hex digits of the sha256; the whole hashes are the run's tags
``train_manifest_sha256`` and ``val_manifest_sha256``.

A prepared SIDD training set (``invdn prepare sidd-medium``) carries its own manifest (``manifest.csv``,
hashed in ``manifest.sha256``); that table and hash are used as they are. Other folders are hashed
(``invdn.data.manifest.pairs_manifest``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from invdn.data import find_pairs
from invdn.data.manifest import pairs_manifest

DIGEST_CHARS = 36  # MLflow's longest dataset digest


@dataclass(frozen=True)
class Manifest:
    """A data folder's identity: its path, its manifest hash (sha256 hex) and its table of pairs."""

    source: str
    sha256: str
    frame: pd.DataFrame


def manifest(folder: str | Path) -> Manifest:
    """The manifest of a training or validation folder (Noisy/, GT/, LQ/ pairs, or a prepared set).

    Raises:
        DataLayoutError: the folder holds no pairs.
    """
    prepared = Path(folder) / "manifest.sha256"
    if prepared.is_file() and (Path(folder) / "manifest.csv").is_file():
        return Manifest(str(folder), prepared.read_text().split()[0], pd.read_csv(Path(folder) / "manifest.csv"))
    entries, sha = pairs_manifest(find_pairs(folder))
    return Manifest(str(folder), sha, pd.json_normalize(entries))


def log_datasets(train: Manifest, val: Manifest, names: tuple[str, str] = ("train", "val")) -> None:
    """Log the training and validation data to the active MLflow run (``mlflow.log_input``, contexts
    ``training`` and ``validation``), each with its manifest hash as digest (its first ``DIGEST_CHARS``)."""
    import warnings

    import mlflow
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.pandas_dataset import PandasDataset

    for data, name, context in ((train, names[0], "training"), (val, names[1], "validation")):
        with warnings.catch_warnings():  # a local folder matches two registered local sources; either fits
            warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted")
            source = resolve_dataset_source(Path(data.source).resolve().as_uri())
        dataset = PandasDataset(df=data.frame, source=source, name=name, digest=data.sha256[:DIGEST_CHARS])
        mlflow.log_input(dataset, context=context)
