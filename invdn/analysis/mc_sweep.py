"""The Monte-Carlo self-ensemble analysis of paper §4.5: PSNR/SSIM against mc_samples.

For each image, max(counts) z draws are reversed once (one batched pass) and MC-k is the mean of
the first k of them, so every count is an MC self-ensemble of its size and the sweep costs
max(counts) reverse passes per image, not their sum. Scores use the canonical protocol; each
count gets a bootstrap interval over images, and its gain over a single draw the paired interval
and the share of images that improve (the paper's "83.35% images witness a performance boost"
is that share at 16 draws). Runtime per count is measured separately, as ``denoise`` with that
many draws on one image, so it is the cost a user of ``mode: mc`` would pay.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

from invdn.data import ImagePair, load_pair, uint8_to_float
from invdn.inference.modes import image_generator, reverse_samples
from invdn.metrics import CANONICAL, PROTOCOLS
from invdn.models import InvDN
from invdn.analysis.cost import time_denoise
from invdn.analysis.bootstrap import bootstrap_ci, fraction_improved, paired_difference_ci

SWEEP_FORMAT = "invdn-repro/mc-sweep/1"


def running_means(samples: torch.Tensor, counts: Sequence[int]) -> dict[int, torch.Tensor]:
    """{k: mean of samples[:k]} for (K, C, H, W) samples and every k in ``counts`` (1 <= k <= K)."""
    csum = samples.cumsum(dim=0)
    return {k: csum[k - 1] / k for k in counts}


@torch.no_grad()
def mc_sweep(
    model: InvDN,
    pairs: Sequence[ImagePair],
    counts: Sequence[int] = (1, 2, 4, 8, 16, 32),
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = False,
    keep: str | None = None,
) -> tuple[dict, dict[str, torch.Tensor]]:
    """Score MC-k for every k in ``counts`` on ``pairs``; returns (record, images).

    record: {"counts", "per_image": {k: [psnr...]}, "curve": [{mc_samples, psnr, ssim, CIs,
    gain_over_single (paired interval), fraction_improved, seconds_per_image}], ...}, PSNR in dB,
    seconds on ``device``. ``images`` holds (3, H, W) float tensors of the image named ``keep``
    (default: the first): "noisy", "clean" and "mc<k>" for each k, for the residual figure.

    Raises:
        ValueError: counts empty or not all >= 1, or no pairs.
    """
    counts = sorted(set(int(k) for k in counts))
    if not counts or counts[0] < 1:
        raise ValueError(f"counts must be integers >= 1, got {counts}")
    if not pairs:
        raise ValueError("mc_sweep needs at least one image pair")
    device = torch.device(device)
    keep = keep or pairs[0].name
    psnrs = {k: [] for k in counts}
    ssims = {k: [] for k in counts}
    images: dict[str, torch.Tensor] = {}
    size = None
    score = PROTOCOLS[CANONICAL].scores
    for pair in tqdm(pairs, desc=f"MC sweep {counts}", unit="img", disable=not progress):
        noisy_u8, clean_u8, _ = load_pair(pair)
        noisy, clean = uint8_to_float(noisy_u8), uint8_to_float(clean_u8)
        size = size or tuple(clean.shape[-2:])  # runtime is measured at the first image's size
        gen = image_generator(seed, pair.name, device)
        samples = next(reverse_samples(model, noisy[None].to(device), [gen], counts[-1])).cpu()
        for k, out in running_means(samples, counts).items():
            p, s = score(out, clean)
            psnrs[k].append(p)
            ssims[k].append(s)
            if pair.name == keep:
                images[f"mc{k}"] = out
        if pair.name == keep:
            images["noisy"], images["clean"] = noisy, clean

    curve = []
    for k in counts:
        entry = {
            "mc_samples": k,
            "psnr": float(np.mean(psnrs[k])), "ssim": float(np.mean(ssims[k])),
            "psnr_ci": bootstrap_ci(psnrs[k], seed=seed).to_dict(),
            "ssim_ci": bootstrap_ci(ssims[k], seed=seed).to_dict(),
            "gain_over_single": paired_difference_ci(psnrs[k], psnrs[counts[0]], seed=seed).to_dict(),
            "fraction_improved": fraction_improved(psnrs[k], psnrs[counts[0]]),
            "seconds_per_image": time_denoise(model, size, repeats=1, mc_samples=k, warmup=False),
        }
        curve.append(entry)
    record = {
        "format": SWEEP_FORMAT,
        "protocol": CANONICAL,
        "counts": counts,
        "baseline_count": counts[0],
        "seed": seed,
        "num_images": len(pairs),
        "image_size": list(size),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "names": [p.name for p in pairs],
        "per_image": {str(k): {"psnr": psnrs[k], "ssim": ssims[k]} for k in counts},
        "curve": curve,
        "figure_image": keep,
    }
    return record, images
