"""Fixtures (shared helpers are in helpers.py). Tests under tests/workflow/ run the real Snakemake DAG
and are marked slow: `make test-fast` runs tests/unit without them."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import BUNDLED, crop_folder


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "workflow" in Path(str(item.fspath)).parts:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _isolated_mlflow(monkeypatch):
    """No test writes to a user's store: MLFLOW_TRACKING_URI is unset unless a test sets it.

    mlflow.set_tracking_uri also exports the variable (os.environ, behind monkeypatch's back), so it
    is removed again after each test: otherwise a later Snakemake subprocess would log to that store.
    """
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield
    os.environ.pop("MLFLOW_TRACKING_URI", None)


@pytest.fixture
def tiny_data(tmp_path) -> dict[str, Path]:
    """Real SIDD crops: train 3 pairs 64x64 with 16x16 LQ, val 2 pairs 32x32."""
    train = crop_folder(BUNDLED / "train_mini", tmp_path / "train", ["0_0", "0_1", "0_2"], 64, ("Noisy", "GT", "LQ"))
    val = crop_folder(BUNDLED / "val_mini", tmp_path / "val", ["0_0", "0_1"], 32)
    return {"train": train, "val": val}
