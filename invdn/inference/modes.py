"""Inference: replacing z by samples z_hf ~ N(0, I), once (``single``) or averaged (``mc``).

Paper §3.3 (denoising by resampling the latent) and §4.5 (Monte-Carlo self-ensemble). Unlike the
official test code, z is drawn per image from its own seeded generator, and the ``mc_samples``
reverse passes of one image run as one batched pass, so results do not depend on batch size or
image order and a rerun reproduces them.
"""
from __future__ import annotations

import enum
import zlib
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from invdn.inference.runtime import tune_allocator
from invdn.models import InvDN


# Image pixels per reverse pass on CPU: MC-16 of a 256x256 image in one pass. With the allocator
# tuned (invdn.inference.runtime, as reverse_samples does on the CPU) that took 4.8 s against 5.4-5.8 s for 16 passes of one draw
# on 2 cores; with glibc's defaults the big batch ran slower (0.69x), because its activations were
# mapped and faulted in anew on every pass. The cap bounds memory for large images.
CPU_PASS_PIXELS = 16 * 256 * 256


class Mode(str, enum.Enum):
    """Inference modes: ``single`` (one z draw), ``mc`` (Monte-Carlo self-ensemble, paper §4.5),
    ``x8`` (the 8 flips/transposes, one z each, as the official ``forward_x8``) and ``x8_mc``
    (8 geometric variants x mc_samples draws)."""

    SINGLE = "single"
    MC = "mc"
    X8 = "x8"
    X8_MC = "x8_mc"

    @property
    def geometric(self) -> bool:
        """Whether the 8 flips/transposes are averaged."""
        return self in (Mode.X8, Mode.X8_MC)

    @property
    def sampled(self) -> bool:
        """Whether several z draws are averaged (``mc_samples`` applies)."""
        return self in (Mode.MC, Mode.X8_MC)

    def draws(self, mc_samples: int) -> int:
        """z draws averaged per geometric variant: ``mc_samples`` in mc / x8_mc, else 1."""
        return mc_samples if self.sampled else 1

    def reverse_passes(self, mc_samples: int) -> int:
        """Reverse passes per image."""
        return self.draws(mc_samples) * (8 if self.geometric else 1)


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """The k-th of the 8 flips/transposes of (..., H, W): bit 0 flips W, bit 1 flips H, bit 2 transposes."""
    if k & 1:
        x = x.flip(-1)
    if k & 2:
        x = x.flip(-2)
    if k & 4:
        x = x.transpose(-2, -1)
    return x


def dihedral_inverse(x: torch.Tensor, k: int) -> torch.Tensor:
    """Undo ``dihedral(x, k)``: the same operations in reverse order."""
    if k & 4:
        x = x.transpose(-2, -1)
    if k & 2:
        x = x.flip(-2)
    if k & 1:
        x = x.flip(-1)
    return x


def image_generator(seed: int, name: str, device: torch.device | str = "cpu") -> torch.Generator:
    """A torch.Generator seeded from (seed, image name): the same z for the same image in any run."""
    derived = np.random.SeedSequence([seed, zlib.crc32(name.encode())]).generate_state(1, np.uint64)[0]
    return torch.Generator(device=device).manual_seed(int(derived))


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad (N, C, H, W) at the bottom/right to multiples of ``multiple``; returns (x, (H, W))."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="reflect")
    return x, (h, w)


def reverse_samples(
    model: InvDN,
    noisy: torch.Tensor,
    generators: list[torch.Generator],
    samples: int = 1,
    perturb: float | None = None,
    pass_pixels: int | None = None,
) -> Iterator[torch.Tensor]:
    """Per image n of (N, C, H, W): ``samples`` reverse passes of [lr ; z'], as (samples, C, H, W).

    One forward pass gives [lr ; z]; v ~ N(0, I) is drawn from ``generators[n]`` and
    z' = v when ``perturb`` is None (denoising, paper §3.3) or z' = z + perturb * v (noise
    generation, §4.6). All draws of an image are made first, then reversed in batches of at most
    ``pass_pixels`` image pixels (samples x H x W), so the batching never changes the numbers.
    Default: one batch on CUDA; on CPU at most ``CPU_PASS_PIXELS`` (16 images of 256x256) per pass,
    which bounds the memory of large images.
    Sizes not divisible by 2**down_blocks are reflect-padded at the bottom/right and cropped back.
    Outputs are not clamped.

    Raises:
        ValueError: not one generator per image, or samples < 1.
    """
    if len(generators) != noisy.shape[0]:
        raise ValueError(f"need one generator per image: {noisy.shape[0]} images, {len(generators)} generators")
    if samples < 1:
        raise ValueError(f"samples (mc_samples) must be >= 1, got {samples}")
    if noisy.device.type == "cpu":
        tune_allocator()  # once per process (INVDN_MALLOC=default opts out): see invdn.inference.runtime
    x, (h, w) = pad_to_multiple(noisy, model.scale)
    lr, z = model.split_latent(model(x))
    if pass_pixels is None:
        pass_pixels = CPU_PASS_PIXELS if x.device.type == "cpu" else samples * x.shape[-2] * x.shape[-1]
    per_pass = max(1, pass_pixels // (x.shape[-2] * x.shape[-1]))
    for n, gen in enumerate(generators):
        v = torch.randn((samples,) + z.shape[1:], generator=gen, device=z.device, dtype=z.dtype)
        z_new = v if perturb is None else z[n : n + 1] + perturb * v
        latent = torch.cat((lr[n : n + 1].expand(samples, -1, -1, -1), z_new), dim=1)
        out = [model(part, rev=True) for part in latent.split(per_pass)]
        yield torch.cat(out)[..., :h, :w]


@torch.no_grad()
def denoise(
    model: InvDN,
    noisy: torch.Tensor,
    generators: list[torch.Generator],
    mc_samples: int = 1,
) -> torch.Tensor:
    """Denoise a batch: (N, C, H, W) float in [0, 1] -> (N, C, H, W) float (not clamped).

    Image n is denoised with z drawn from ``generators[n]``: ``mc_samples`` draws, reversed in one
    batched pass and averaged (mc_samples = 1 is a single draw). Sizes not divisible by
    2**down_blocks are reflect-padded at the bottom/right and cropped back.
    """
    return torch.stack([out.mean(dim=0) for out in reverse_samples(model, noisy, generators, mc_samples)])


@torch.no_grad()
def denoise_x8(
    model: InvDN,
    noisy: torch.Tensor,
    generators: list[torch.Generator],
    mc_samples: int = 1,
) -> torch.Tensor:
    """Geometric self-ensemble: the mean over the 8 flips/transposes of ``denoise`` of each, mapped back.

    Each variant draws its own z from the image's generator (in the order k = 0..7), so ``x8`` with
    mc_samples = N averages 8 x N reverse passes (mode ``x8_mc``). Shapes as ``denoise``.
    """
    total = torch.zeros_like(noisy)
    for k in range(8):
        total += dihedral_inverse(denoise(model, dihedral(noisy, k), generators, mc_samples), k)
    return total / 8


def run_mode(
    model: InvDN,
    noisy: torch.Tensor,
    generators: list[torch.Generator],
    mode: Mode | str,
    mc_samples: int = 16,
) -> torch.Tensor:
    """Denoise (N, C, H, W) float in [0, 1] in inference ``mode`` -> (N, C, H, W) float (not clamped).

    ``mc_samples`` is used by mc and x8_mc only. Each image's z comes from its own generator, so
    the result of an image does not depend on the batch it is in.

    Raises:
        ValueError: unknown mode (the message lists the known ones), or as ``denoise``.
    """
    try:
        mode = Mode(mode)
    except ValueError:
        raise ValueError(f"unknown inference mode {mode!r}; known: {', '.join(m.value for m in Mode)}") from None
    run = denoise_x8 if mode.geometric else denoise
    return run(model, noisy, generators, mode.draws(mc_samples))


def prepare_for_inference(model: InvDN, precision: str = "float32", channels_last: bool | None = None) -> InvDN:
    """``model`` in eval mode, set to compute in ``precision`` ("float32" or "bf16", ``InvDN.precision``).

    Not needed for speed: an ``InvDN`` already takes the fast layout on the CPU by itself
    (``InvDN.auto_layout``) and ``reverse_samples`` tunes the allocator. ``channels_last``: None
    (default) keeps the model's own choice; True puts the weights in channels_last now; False puts
    them in NCHW and keeps them there (``auto_layout`` off: the reference path). Numbers are
    unchanged in float32 up to round-off (3.6e-7 on a trained model); inputs may be in any layout.
    """
    model.eval()
    model.precision = precision
    if channels_last is not None:
        model.auto_layout = channels_last
        model.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    return model
