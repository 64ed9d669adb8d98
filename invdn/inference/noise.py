"""Noise generation with a trained InvDN (paper §4.6, Table 5, Fig. 7).

The forward pass splits a real noisy image into [lr ; z]; perturbing the noise latent,
z' = z + eps * v with v ~ N(0, I) (eps = 2e-4 in the paper), and running the reverse pass on
[lr ; z'] gives a new noisy image with the same clean content.

This generator is *conditioned on the real noisy image* (its z is the starting point), unlike
clean-to-noisy generators such as DANet or PNGAN, which see only the clean image: with the paper's
small eps the generated image stays close to the real one, so its AKLD (paper Table 5) is
not a like-for-like comparison with theirs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import torch
from tqdm import tqdm

from invdn.data import ImagePair, load_pair, uint8_to_float
from invdn.inference.modes import image_generator, reverse_samples
from invdn.metrics import akld_per_image, load_generated_folder
from invdn.models import InvDN
from invdn.analysis.bootstrap import bootstrap_ci

PAPER_EPS = 2e-4  # paper §4.6: "epsilon is set to 2e-4"


@torch.no_grad()
def generate_noisy(
    model: InvDN,
    noisy: torch.Tensor,
    generators: list[torch.Generator],
    samples: int = 1,
    eps: float = PAPER_EPS,
) -> torch.Tensor:
    """New noisy versions of real noisy images: (N, C, H, W) float in [0, 1] -> (L, N, C, H, W).

    ``samples`` (L) perturbations per image, each v drawn from ``generators[n]`` (one seeded
    generator per image, so results do not depend on the batch). Outputs are float, clamped to
    [0, 1] and not quantised (the AKLD protocol of DANet). Sizes not divisible by 2**down_blocks
    are reflect-padded and cropped back.

    Raises:
        ValueError: not one generator per image, samples < 1 or eps < 0.
    """
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    out = list(reverse_samples(model, noisy, generators, samples, perturb=eps))
    return torch.stack(out, dim=1).clamp(0, 1)


GENERATION_FORMAT = "invdn-repro/noise-generation/1"


Generator = Callable[[ImagePair, torch.Tensor], torch.Tensor]
"""(pair, its noisy image (1, 3, H, W) float in [0, 1]) -> generated images (L, 1, 3, H, W) in [0, 1]."""


def invdn_generator(model: InvDN, samples: int = 50, eps: float = PAPER_EPS, seed: int = 0,
                    device: torch.device | str = "cpu") -> Generator:
    """InvDN's noise generation as a Generator (z drawn per image from a seeded generator)."""
    device = torch.device(device)

    def run(pair: ImagePair, noisy: torch.Tensor) -> torch.Tensor:
        gen = [image_generator(seed, pair.name, device)]
        return generate_noisy(model, noisy.to(device), gen, samples, eps).cpu()

    return run


def folder_generator(folder: str | Path, samples: int) -> Generator:
    """Pre-generated images as a Generator: ``<folder>/<name>_<k:02d>.png`` (or ``<name>.png`` for
    one sample), the naming of ``invdn generate-noise``; for generators whose images were
    published but whose code was not."""
    def run(pair: ImagePair, noisy: torch.Tensor) -> torch.Tensor:
        return load_generated_folder(folder, [pair.name], samples)

    return run


@torch.no_grad()
def score_generation(pairs: Sequence[ImagePair], generate: Generator, seed: int = 0, progress: bool = False) -> dict:
    """AKLD of a noise generator on real pairs (paper Table 5 protocol, DANet's AKLD).

    For each pair, ``generate`` makes L noisy images; ``invdn.metrics.akld_per_image`` scores them
    against the real noisy and the clean image. Returns the mean AKLD, its bootstrap interval over
    images (``seed``) and the per-image values.

    Raises:
        ValueError: a generator output of the wrong shape (from ``akld_per_image``).
    """
    per_image, samples = [], set()
    for pair in tqdm(pairs, desc="AKLD", unit="img", disable=not progress):
        noisy_u8, clean_u8, _ = load_pair(pair)
        noisy, clean = uint8_to_float(noisy_u8)[None], uint8_to_float(clean_u8)[None]
        generated = generate(pair, noisy)
        samples.add(generated.shape[0])
        per_image.append(float(akld_per_image(generated, noisy, clean)[0]))
    return {
        "format": GENERATION_FORMAT,
        "samples": min(samples) if len(samples) == 1 else sorted(samples),
        "num_images": len(per_image),
        "akld": float(sum(per_image) / len(per_image)),
        "akld_ci": bootstrap_ci(per_image, seed=seed).to_dict(),
        "images": [{"name": p.name, "akld": a} for p, a in zip(pairs, per_image)],
    }
