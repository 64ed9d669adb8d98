"""Scoring a denoiser on folders of real noisy/clean pairs under every named metric protocol.

Each image is scored under all protocols of ``invdn.metrics.PROTOCOLS``; ``canonical`` is the
primary one (the ``psnr``/``ssim`` fields and the tables). Every mean comes with a seeded
percentile-bootstrap 95% interval over images (``invdn.analysis.bootstrap``).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from tqdm import tqdm

from invdn.data import ImagePair, float_to_uint8, load_pair, uint8_to_float
from invdn.inference.config import InferenceConfig
from invdn.inference.modes import image_generator, run_mode
from invdn.metrics import CANONICAL, PROTOCOLS
from invdn.models import InvDN
from invdn.analysis.bootstrap import bootstrap_ci

METRICS_FORMAT = "invdn-repro/metrics/1"


@dataclass
class ImageScore:
    """Scores of one image: canonical PSNR in dB and SSIM, the noisy input's, denoising time in
    seconds, the image size in megapixels, and {protocol: {"psnr": dB, "ssim": ...}} for every protocol."""

    name: str
    psnr: float
    ssim: float
    noisy_psnr: float
    noisy_ssim: float
    seconds: float
    megapixels: float
    protocols: dict[str, dict[str, float]]


Denoiser = Callable[[torch.Tensor, str], torch.Tensor]
"""(1, 3, H, W) float in [0, 1] on the device, image name -> (1, 3, H, W) float (clamped later)."""


def invdn_denoiser(model: InvDN, inference: InferenceConfig) -> Denoiser:
    """InvDN inference as a Denoiser (``inference``: mode, draws, z seed), z drawn from the image's own
    seeded generator."""

    def run(noisy: torch.Tensor, name: str) -> torch.Tensor:
        return run_mode(model, noisy, [image_generator(inference.seed, name, noisy.device)], inference.mode,
                        inference.mc_samples)

    return run


def score_pairs(
    denoiser: Denoiser,
    pairs: Sequence[ImagePair],
    device: torch.device | str = "cpu",
    progress: bool = False,
    on_image: Callable[[str, torch.Tensor], None] | None = None,
    desc: str = "evaluate",
    protocols: Sequence[str] | None = None,
) -> list[ImageScore]:
    """Denoise each pair, one image at a time, and score it under ``protocols`` (default: all).

    ``on_image(name, denoised)`` receives each denoised image, (3, H, W) uint8, e.g. to save it.
    """
    device = torch.device(device)
    chosen = {name: PROTOCOLS[name] for name in (protocols or PROTOCOLS)}
    chosen.setdefault(CANONICAL, PROTOCOLS[CANONICAL])
    scores = []
    for pair in tqdm(pairs, desc=desc, unit="img", disable=not progress):
        noisy_u8, clean_u8, _ = load_pair(pair)
        noisy, clean = uint8_to_float(noisy_u8), uint8_to_float(clean_u8)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        with torch.no_grad():
            out = denoiser(noisy[None].to(device), pair.name)[0].cpu()
        seconds = time.perf_counter() - start
        per_protocol = {name: dict(zip(("psnr", "ssim"), protocol.scores(out, clean)))
                        for name, protocol in chosen.items()}
        np_, ns = PROTOCOLS[CANONICAL].scores(noisy, clean)
        primary = per_protocol[CANONICAL]
        megapixels = clean.shape[-1] * clean.shape[-2] / 1e6
        scores.append(ImageScore(pair.name, primary["psnr"], primary["ssim"], np_, ns, seconds, megapixels, per_protocol))
        if on_image is not None:
            on_image(pair.name, float_to_uint8(out))
    return scores


def summarise(scores: Sequence[ImageScore]) -> dict[str, float]:
    """Means over images: canonical PSNR (dB) and SSIM, the noisy input's, seconds per image and
    per megapixel (total time / total megapixels: the SIDD submission's TimeMP figure)."""
    keys = ("psnr", "ssim", "noisy_psnr", "noisy_ssim", "seconds")
    means = {("seconds_per_image" if k == "seconds" else k): float(np.mean([getattr(s, k) for s in scores])) for k in keys}
    means["seconds_per_megapixel"] = float(sum(s.seconds for s in scores) / sum(s.megapixels for s in scores))
    return means


def protocol_summary(scores: Sequence[ImageScore], seed: int = 0) -> dict[str, dict]:
    """{protocol: {"psnr": mean, "ssim": mean, "psnr_ci": interval, "ssim_ci": interval, "description"}}.

    Intervals: percentile bootstrap over images, 95%, 10,000 resamples, ``seed`` (``stats.bootstrap_ci``);
    an image scoring infinite PSNR (identical to its reference) gets no interval for that metric.
    """
    out = {}
    for name in scores[0].protocols if scores else ():
        entry = {"description": PROTOCOLS[name].description}
        for metric in ("psnr", "ssim"):
            values = np.array([s.protocols[name][metric] for s in scores])
            entry[metric] = float(values.mean())
            entry[f"{metric}_ci"] = bootstrap_ci(values, seed=seed).to_dict() if np.isfinite(values).all() else None
        out[name] = entry
    return out


def metrics_record(scores: Sequence[ImageScore], method: str, inference: InferenceConfig, **context) -> dict:
    """The metrics JSON of one evaluation: method, protocols, mode, draws, z seed, means with bootstrap
    intervals, and per-image values. ``protocol`` names the primary protocol of ``mean``."""
    seed = inference.seed
    return {
        "format": METRICS_FORMAT,
        "method": method,
        "protocol": CANONICAL,
        "mode": inference.mode.value,
        "mc_samples": inference.draws,
        "seed": seed,
        "num_images": len(scores),
        "mean": summarise(scores),
        "protocols": protocol_summary(scores, seed),
        "images": [asdict(s) for s in scores],
        **context,
    }
