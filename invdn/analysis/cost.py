"""Model cost: parameters, multiply-accumulates of one denoise, and measured time.

The paper's Table 2 "Infer time" column gives the cost of one 256x256 image in "GFLOPs"; the
official code counts 47.54 G multiply-adds for one forward plus one reverse pass. Here operations
are counted by ``torch.utils.flop_counter.FlopCounterMode`` (convolutions and matrix products;
element-wise operations are not counted), whose convention is 1 MAC = 2 FLOPs: both are reported,
labelled.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from invdn.inference.modes import denoise, image_generator
from invdn.models import Architecture, InvDN


@dataclass(frozen=True)
class Profile:
    parameters: int
    gmac: float                   # 1e9 multiply-accumulates, forward + reverse, one image
    gflops: float                 # = 2 * gmac (torch.utils.flop_counter convention)
    size: int                     # image side in pixels (square RGB image)
    seconds_per_image: float      # median wall time of one single-draw denoise
    seconds_per_megapixel: float
    device: str
    threads: int

    def to_dict(self) -> dict:
        return asdict(self)


def _device(model: InvDN) -> torch.device:
    return next(model.parameters()).device


def count_flops(model: InvDN, size: int = 256) -> int:
    """FLOPs of one forward and one reverse pass on a (1, C, size, size) image (any device, also meta)."""
    x = torch.zeros(1, model.arch.channels, size, size, device=_device(model))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(model(x), rev=True)
    return counter.get_total_flops()


def synchronize(device: torch.device) -> None:
    """Wait for queued CUDA work (a no-op on CPU), so that wall-clock timings cover it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_denoise(model: InvDN, size: int | tuple[int, int] = 256, repeats: int = 3, mc_samples: int = 1,
                 warmup: bool = True) -> float:
    """Median seconds of one denoise (``mc_samples`` draws) of a (1, C, H, W) image, H = W = size or
    (H, W) = size; after one untimed warm-up pass unless ``warmup`` is False (a model just used)."""
    device = _device(model)
    h, w = (size, size) if isinstance(size, int) else size
    x = torch.rand(1, model.arch.channels, h, w, generator=torch.Generator().manual_seed(0)).to(device)
    times = []
    for i in range(repeats + int(warmup)):
        synchronize(device)
        start = time.perf_counter()
        denoise(model, x, [image_generator(0, "profile", device)], mc_samples)
        synchronize(device)
        if i or not warmup:  # the warm-up pass fills allocators and kernel caches
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def profile(model: InvDN, size: int = 256, repeats: int = 3) -> Profile:
    """Parameters, GMAC/GFLOPs (forward + reverse) and measured time of ``model`` on its device."""
    model.eval()
    flops = count_flops(model, size)
    seconds = time_denoise(model, size, repeats)
    device = _device(model)
    return Profile(
        parameters=model.num_parameters(),
        gmac=flops / 2e9,
        gflops=flops / 1e9,
        size=size,
        seconds_per_image=seconds,
        seconds_per_megapixel=seconds / (size * size / 1e6),
        device=str(device),
        threads=torch.get_num_threads(),
    )


def architecture_cost(arch: Architecture, size: int = 256) -> dict:
    """Parameters, GMAC and GFLOPs (forward + reverse, one (1, C, size, size) image) of ``arch``.

    Computed on PyTorch's meta device: shapes only, no memory or arithmetic, so a whole grid of
    architectures costs a second.
    """
    with torch.device("meta"):
        model = InvDN(arch)
    flops = count_flops(model, size)
    return {"parameters": model.num_parameters(), "gmac": flops / 2e9, "gflops": flops / 1e9, "size": size}
