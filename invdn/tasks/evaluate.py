"""Evaluation tasks: InvDN weights or a baseline scored on a folder of real pairs under every metric
protocol, recorded as a metrics JSON in one tracked run."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from invdn.analysis.evaluate import Denoiser, invdn_denoiser, metrics_record, score_pairs
from invdn.config import config_hash
from invdn.data import eval_pairs, write_rgb
from invdn.data.io import chw_uint8_to_hwc
from invdn.data.manifest import pairs_manifest
from invdn.inference.config import InferenceConfig
from invdn.inference.modes import Mode, prepare_for_inference
from invdn.inference.runtime import resolve_device
from invdn.metrics import CANONICAL, PROTOCOLS
from invdn.models import load_model
from invdn.models.registry import DENOISERS, NETWORKS
from invdn.tasks.common import TrackingConfig, record_run

# train settings an evaluation records beside its scores (tables describe the training from them)
TRAIN_PARAMS = ("iterations", "batch_size", "patch_size", "lr", "seed", "noise_gain_max", "channel_shuffle")


@dataclass(frozen=True)
class EvalData:
    """What is scored: a folder of Noisy/ and GT/ pairs (or a SIDD .mat), how tables name it, its
    first ``max_images`` pairs in sorted order (0: all), and how many denoised PNGs are kept."""

    path: Path
    name: str | None = None
    max_images: int = 0
    save_samples: int = 3

    @property
    def label(self) -> str:
        return self.name or str(self.path)


def _protocol_metrics(record: dict) -> dict[str, float]:
    """MLflow metrics of every protocol (psnr_<name>, ssim_<name>) and the canonical 95% intervals."""
    out = {}
    for name, entry in record["protocols"].items():
        for metric in ("psnr", "ssim"):
            out[f"{metric}_{name}"] = entry[metric]
            ci = entry[f"{metric}_ci"]
            if ci and name == record["protocol"]:
                out[f"{metric}_ci_low"], out[f"{metric}_ci_high"] = ci["low"], ci["high"]
    return out


def score_and_record(denoiser: Denoiser, method: str, data: EvalData, inference: InferenceConfig, out: Path,
                     tracking: TrackingConfig, described: dict, progress: bool = True) -> dict:
    """Score ``denoiser`` on ``data`` and record it; ``described`` holds the run's ``params``, ``tags``
    and the record's ``context`` (label, scale, checkpoint, ...). Returns the metrics record."""
    pairs = eval_pairs(data.path)
    if data.max_images:
        pairs = pairs[: data.max_images]
    device = resolve_device(inference.device)
    params = {"data": str(data.path), "method": method, "mode": inference.mode.value, "mc_samples": inference.draws,
              "seed": inference.seed, "device": str(device), "protocol": CANONICAL, "protocols": ",".join(PROTOCOLS),
              **({"max_images": data.max_images} if data.max_images else {}), **described["params"]}
    tags = {"stage": "evaluate", "method": method, "mode": inference.mode.value, "config_hash": config_hash(params),
            "data_manifest_sha256": pairs_manifest(pairs)[1], **described["tags"]}
    run_name = f"evaluate/{described['tags'].get('variant', method)}/{inference.mode.value}"
    with tempfile.TemporaryDirectory() as tmp:
        kept: list[tuple[Path, str]] = []

        def keep(name: str, img) -> None:
            if len(kept) < data.save_samples:
                path = Path(tmp) / f"{name}.png"
                write_rgb(path, chw_uint8_to_hwc(img))
                kept.append((path, "samples"))

        scores = score_pairs(denoiser, pairs, device, progress=progress, on_image=keep, desc=run_name)
        record = metrics_record(scores, method, inference, data=str(data.path), device=str(device),
                                data_name=data.label, **described["context"])
        metrics = {**record["mean"], **_protocol_metrics(record), "num_parameters": record["num_parameters"]}
        return record_run(out, run_name, params, tags, record, metrics, tracking, kept)


def evaluate_invdn(weights: Path, data: EvalData, inference: InferenceConfig, out: Path, tracking: TrackingConfig,
                   released: str | None = None, progress: bool = True) -> dict:
    """Score InvDN weights (ours, official or Paddle: ``invdn.models.load_model``) on ``data`` in
    ``inference``'s mode; ``released`` names weights scored as published (Table 2's "released" rows).

    Raises:
        CheckpointError: unreadable or unusable weights (the file named).
        DataLayoutError, ImageError: the data cannot be read (the file named).
    """
    model, state = load_model(weights, resolve_device(inference.device))
    prepare_for_inference(model, inference.precision)
    variant, scale = state.get("name", "custom"), state.get("scale", "custom")
    train = (state.get("config") or {}).get("train", {})
    described = {
        "params": {"checkpoint": str(weights), "precision": inference.precision,
                   **({"released": released} if released else {}),
                   "train": {k: v for k, v in train.items() if k in TRAIN_PARAMS}},
        # the training run that wrote the weights (this project's model files name it)
        "tags": {"scale": scale, "variant": variant,
                 **({"train_run_id": state["mlflow_run_id"]} if state.get("mlflow_run_id") else {})},
        "context": {"label": "InvDN", "checkpoint": str(weights), "train_step": state.get("step"),
                    "train_seed": train.get("seed"), "released": released, "scale": scale, "variant": variant,
                    "num_parameters": model.num_parameters()},
    }
    return score_and_record(invdn_denoiser(model, inference), "invdn", data, inference, out, tracking, described,
                            progress)


def evaluate_baseline(method: str, weights: Path | None, data: EvalData, device: str, out: Path,
                      tracking: TrackingConfig, progress: bool = True) -> dict:
    """Score a baseline exactly as InvDN is scored: a classical denoiser by name, or a learned network
    from its model file (``weights``, trained by ``invdn train``).

    Raises:
        ValueError: an unknown method, or weights of another network than ``method``.
        ImportError: an optional package the method needs (bm3d).
    """
    if weights is not None:
        baseline = NETWORKS.get(method).load(weights, resolve_device(device))
        if baseline.name != method:
            raise ValueError(f"{weights} holds {baseline.name!r}, not {method!r}")
        scale = baseline.scale
    else:
        if method in NETWORKS:
            raise ValueError(f"{method!r} is a trained network: give its model file")
        baseline, scale, device = DENOISERS.get(method)(), "none", "cpu"
    described = {"params": {"settings": baseline.settings()}, "tags": {"variant": method, "scale": scale},
                 "context": {"label": baseline.label, "num_parameters": baseline.num_parameters, "scale": scale}}
    inference = InferenceConfig(Mode.SINGLE, 1, 0, str(device))
    with torch.no_grad():
        return score_and_record(lambda noisy, name: baseline.denoise(noisy), method, data, inference, out, tracking,
                                described, progress)
