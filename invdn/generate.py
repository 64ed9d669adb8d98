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

import torch

from .ensembles import reverse_samples
from .models import InvDN

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


@torch.no_grad()
def score_generation(
    model: InvDN,
    pairs,
    samples: int = 50,
    eps: float = PAPER_EPS,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> dict:
    """AKLD of InvDN's noise generation on real pairs (paper Table 5 protocol, DANet's AKLD).

    For each pair, ``samples`` (L) images are generated from its real noisy image and scored
    against it and the clean image with ``invdn.metrics.akld_per_image``. Returns a record with the
    mean AKLD, its bootstrap interval over images and the per-image values.
    """
    from tqdm import tqdm

    from .data import load_pair, uint8_to_float
    from .ensembles import image_generator
    from .metrics import akld_per_image
    from .stats import bootstrap_ci

    device = torch.device(device)
    per_image = []
    for pair in tqdm(pairs, desc=f"AKLD (L={samples}, eps={eps:g})", unit="img", disable=not progress):
        noisy_u8, clean_u8, _ = load_pair(pair)
        noisy, clean = uint8_to_float(noisy_u8)[None], uint8_to_float(clean_u8)[None]
        generated = generate_noisy(model, noisy.to(device), [image_generator(seed, pair.name, device)], samples, eps)
        per_image.append(float(akld_per_image(generated.cpu(), noisy, clean)[0]))
    return {
        "format": GENERATION_FORMAT,
        "generator": "invdn",
        "conditioned_on_noisy": True,
        "eps": eps,
        "samples": samples,
        "seed": seed,
        "num_images": len(per_image),
        "akld": float(sum(per_image) / len(per_image)),
        "akld_ci": bootstrap_ci(per_image, seed=seed).to_dict(),
        "images": [{"name": p.name, "akld": a} for p, a in zip(pairs, per_image)],
    }
