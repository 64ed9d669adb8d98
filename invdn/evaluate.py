"""Scoring a model on folders of real noisy/clean pairs under the canonical protocol."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from tqdm import tqdm

from .data import ImagePair, float_to_uint8, load_pair, uint8_to_float
from .ensembles import denoise, image_generator
from .metrics import CANONICAL, canonical_scores
from .models import InvDN

METRICS_FORMAT = "invdn-repro/metrics/1"


@dataclass
class ImageScore:
    """Scores of one image: PSNR in dB, SSIM, the noisy input's scores, and denoising time in seconds."""

    name: str
    psnr: float
    ssim: float
    noisy_psnr: float
    noisy_ssim: float
    seconds: float


Denoiser = Callable[[torch.Tensor, str], torch.Tensor]
"""(1, 3, H, W) float in [0, 1] on the device, image name -> (1, 3, H, W) float (clamped later)."""


def invdn_denoiser(model: InvDN, mc_samples: int, seed: int) -> Denoiser:
    """InvDN inference as a Denoiser: ``mc_samples`` z draws from the image's own seeded generator."""

    def run(noisy: torch.Tensor, name: str) -> torch.Tensor:
        return denoise(model, noisy, [image_generator(seed, name, noisy.device)], mc_samples)

    return run


def score_pairs(
    denoiser: Denoiser,
    pairs: Sequence[ImagePair],
    device: torch.device | str = "cpu",
    progress: bool = False,
    on_image: Callable[[str, torch.Tensor], None] | None = None,
    desc: str = "evaluate",
) -> list[ImageScore]:
    """Denoise each pair, one image at a time, and score it with the canonical protocol.

    ``on_image(name, denoised)`` receives each denoised image, (3, H, W) uint8, e.g. to save it.
    """
    device = torch.device(device)
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
        p, s = canonical_scores(out, clean)
        np_, ns = canonical_scores(noisy, clean)
        scores.append(ImageScore(pair.name, p, s, np_, ns, seconds))
        if on_image is not None:
            on_image(pair.name, float_to_uint8(out))
    return scores


def summarise(scores: Sequence[ImageScore]) -> dict[str, float]:
    """Means over images of every score (PSNR in dB, seconds per image)."""
    keys = ("psnr", "ssim", "noisy_psnr", "noisy_ssim", "seconds")
    return {("seconds_per_image" if k == "seconds" else k): float(np.mean([getattr(s, k) for s in scores])) for k in keys}


def metrics_record(
    scores: Sequence[ImageScore], method: str, mode: str, mc_samples: int, seed: int, **context
) -> dict:
    """The metrics JSON of one evaluation: method, protocol, mode, seed, means and per-image values."""
    return {
        "format": METRICS_FORMAT,
        "method": method,
        "protocol": CANONICAL,
        "mode": mode,
        "mc_samples": mc_samples,
        "seed": seed,
        "num_images": len(scores),
        "mean": summarise(scores),
        "images": [asdict(s) for s in scores],
        **context,
    }
