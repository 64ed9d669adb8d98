"""Shared fixtures: tiny data folders in the bundled layout, built from the bundled real patches."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "data" / "SIDD_mini"


def crop_folder(src: Path, dst: Path, names: list[str], size: int, subs=("Noisy", "GT"), lq_scale: int = 4) -> Path:
    """Copy ``names`` from a bundled folder, cropped to size x size (LQ to size / lq_scale)."""
    for sub in subs:
        (dst / sub).mkdir(parents=True, exist_ok=True)
        for name in names:
            img = np.asarray(Image.open(src / sub / f"{name}.PNG"))
            s = size // lq_scale if sub == "LQ" else size
            Image.fromarray(np.ascontiguousarray(img[:s, :s])).save(dst / sub / f"{name}.PNG")
    return dst


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


def tiny_run_config(data: dict[str, Path], **train) -> dict:
    """A run config of a small InvDN (2 down-scale blocks x 1 coupling block) for fast tests."""
    return {
        "name": "tiny",
        "scale": "smoke",
        "data": {"train": str(data["train"]), "val": str(data["val"]), "val_name": "tiny val"},
        "model": {"down_blocks": 2, "inv_blocks": 1},
        "train": {
            "iterations": 4, "batch_size": 2, "patch_size": 16, "val_every": 0, "checkpoint_every": 2,
            "log_every": 1, "threads": 1, **train,
        },
    }


def psnr_cell(record: dict) -> str:
    """The Table 2 PSNR cell of a metrics record: mean and its tracked 95% interval (stats.latex_ci)."""
    from invdn.stats import Interval, latex_ci

    ci = record["protocols"]["canonical"]["psnr_ci"]
    return latex_ci(Interval(record["mean"]["psnr"], ci["low"], ci["high"], 0.95, 0, 0, 0), 2)


def perturbed_invdn(arch=None, seed: int = 0):
    """A small InvDN (default: 2 down-scale blocks x 1 coupling block; else the ``Architecture``
    given) in eval mode whose weights are moved away from the default initialisation (seeded), so
    that z draws change its outputs (a fresh densenet subnet outputs exactly 0)."""
    import torch

    from invdn.models import InvDN

    torch.manual_seed(seed)
    m = (InvDN(arch) if arch is not None else InvDN(inv_blocks=1)).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return m
