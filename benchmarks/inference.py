"""Inference speed of every mode on 256x256 images, against the machine's measured conv throughput.

Prints images per second for ``single``, ``mc`` (MC-16 with the default batching of draws: all
16 in one reverse pass on CUDA, up to 16 images of 256x256 per pass on CPU), MC-16 as one batch of 16, MC-16 as the
official test code runs it (16 sequential batch-1 reverse passes) and ``x8``, all in one run on
the current device. The FLOPs of each call are counted by
``torch.utils.flop_counter`` (convolutions; 1 MAC = 2 FLOPs), so each mode's achieved GFLOP/s can
be set against the float32 throughput of a plain 3x3 convolution of InvDN's layer shapes
(64 -> 64 channels at 128x128 and 64x64, batch 1 and 16), measured here first.

Usage: ``python benchmarks/inference.py [--device cpu|cuda] [--size 256] [--repeats 3] [--out JSON]``
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from invdn.inference.modes import image_generator, reverse_samples, run_mode
from invdn.models import InvDN


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device, repeats: int, warmup: int = 1) -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def flops_of(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


CONV_SHAPES = ((1, 128), (16, 128), (1, 64), (16, 64))
"""(batch, side) of the 64-channel inputs of ``conv_throughput``: InvDN's layer shapes."""


@torch.no_grad()
def conv_throughput(device: torch.device, repeats: int, shapes=CONV_SHAPES, dtype: torch.dtype = torch.float32,
                    channels_last: bool = False) -> dict[str, float]:
    """GFLOP/s of a 3x3, 64 -> 64 convolution (padding 1) for InvDN's shapes; the best is the reference.

    ``dtype`` and ``channels_last`` set the weight's and input's dtype and memory format."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    w = torch.randn(64, 64, 3, 3, device=device).to(dtype=dtype, memory_format=fmt)
    out = {}
    for batch, side in shapes:
        x = torch.randn(batch, 64, side, side, device=device).to(dtype=dtype, memory_format=fmt)
        seconds = timed(lambda: F.conv2d(x, w, padding=1), device, repeats)
        out[f"conv64_b{batch}_{side}"] = 2 * 9 * 64 * 64 * batch * side * side / seconds / 1e9
    return out


def official_mc_loop(model: InvDN, x: torch.Tensor, generator: torch.Generator, mc_samples: int) -> torch.Tensor:
    """The official MC_test: one forward, then ``mc_samples`` sequential batch-1 reverse passes, averaged."""
    lr, z = model.split_latent(model(x))
    total = torch.zeros_like(x)
    for _ in range(mc_samples):
        z_hf = torch.randn(z.shape, generator=generator, device=x.device)
        total += model(torch.cat((lr, z_hf), 1), rev=True)
    return total / mc_samples


@torch.no_grad()
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--mc-samples", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    torch.manual_seed(0)
    model = InvDN().to(device).eval()
    x = torch.rand(1, 3, a.size, a.size, generator=torch.Generator().manual_seed(1)).to(device)

    def gen():
        return [image_generator(0, "bench", device)]

    conv = conv_throughput(device, a.repeats)
    peak = max(conv.values())
    def one_batch():
        return next(reverse_samples(model, x, gen(), a.mc_samples, pass_pixels=a.mc_samples * a.size**2)).mean(0)

    calls = {
        "single": lambda: run_mode(model, x, gen(), "single"),
        f"mc{a.mc_samples} (default batching)": lambda: run_mode(model, x, gen(), "mc", a.mc_samples),
        f"mc{a.mc_samples} (one batch of {a.mc_samples})": one_batch,
        f"mc{a.mc_samples} (batch-1 loop, official)": lambda: official_mc_loop(model, x, gen()[0], a.mc_samples),
        "x8": lambda: run_mode(model, x, gen(), "x8"),
    }
    rows = []
    for name, fn in calls.items():
        seconds = timed(fn, device, a.repeats)
        flops = flops_of(fn)
        rows.append({"mode": name, "seconds_per_image": seconds, "images_per_s": 1 / seconds,
                     "gflops_per_image": flops / 1e9, "gflops_per_s": flops / seconds / 1e9,
                     "share_of_conv_throughput": flops / seconds / 1e9 / peak})
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {a.threads} threads"
    print(f"device: {device_name}, torch {torch.__version__}, {a.size}x{a.size} RGB, float32")
    print("3x3 conv 64->64 throughput (GFLOP/s): " + ", ".join(f"{k} {v:.0f}" for k, v in conv.items())
          + f"; reference (best) {peak:.0f}")
    for r in rows:
        print(f"{r['mode']:<36s} {r['seconds_per_image']:7.3f} s/image  {r['images_per_s']:7.3f} images/s  "
              f"{r['gflops_per_image']:7.1f} GFLOP/image  {r['gflops_per_s']:6.0f} GFLOP/s  "
              f"{100 * r['share_of_conv_throughput']:5.1f}% of conv throughput")
    default, batched, loop = rows[1], rows[2], rows[3]
    for r in (default, batched):
        print(f"{r['mode']}: {loop['seconds_per_image'] / r['seconds_per_image']:.2f}x the speed of the official "
              "loop of batch-1 reverse passes (same run)")
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps({"device": device_name, "conv_gflops_per_s": conv, "modes": rows}, indent=2))


if __name__ == "__main__":
    main()
