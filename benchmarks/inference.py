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
import functools
import json
import os
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
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


class Conv(NamedTuple):
    """One distinct convolution call: its arguments' shapes and settings, the input's layout and dtype."""

    input: tuple
    weight: tuple
    bias: bool
    stride: tuple
    padding: tuple
    dilation: tuple
    transposed: bool
    output_padding: tuple
    groups: int
    channels_last: bool
    dtype: torch.dtype


class _ConvRecorder(TorchDispatchMode):
    """Counts every convolution that runs inside it, by ``Conv``."""

    def __init__(self):
        super().__init__()
        self.calls: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten.convolution.default:
            x, w, bias, stride, padding, dilation, transposed, output_padding, groups = args
            channels_last = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
            self.calls[Conv(tuple(x.shape), tuple(w.shape), bias is not None, tuple(stride), tuple(padding),
                            tuple(dilation), bool(transposed), tuple(output_padding), groups, channels_last,
                            x.dtype)] += 1
        return func(*args, **(kwargs or {}))


def convolutions_alone(fn, device: torch.device) -> tuple[dict, Callable[[], None]]:
    """Every convolution of one call of ``fn``, to be run again by itself.

    Returns (layers, replay): ``layers`` maps each distinct ``Conv`` to a zero-argument call of it on
    random data in the same layout, with how often ``fn`` ran it: {Conv: (call, count)}; ``replay()``
    runs every one of them as often as ``fn`` did, back to back. Timed, ``replay`` is the per-layer
    ceiling of ``fn``: the time it would take if it ran nothing but its convolutions, each as fast as it
    runs alone with one library kernel per layer.
    """
    recorder = _ConvRecorder()
    with recorder:
        fn()
    layers = {}
    for conv, count in recorder.calls.items():
        fmt = torch.channels_last if conv.channels_last else torch.contiguous_format
        x = torch.randn(conv.input, device=device, dtype=conv.dtype).contiguous(memory_format=fmt)
        w = torch.randn(conv.weight, device=device, dtype=conv.dtype).contiguous(memory_format=fmt)
        out_channels = conv.weight[1] * conv.groups if conv.transposed else conv.weight[0]
        b = torch.randn(out_channels, device=device, dtype=conv.dtype) if conv.bias else None
        layers[conv] = (functools.partial(torch.ops.aten.convolution, x, w, b, conv.stride, conv.padding,
                                          conv.dilation, conv.transposed, conv.output_padding, conv.groups), count)

    def replay():
        for call, count in layers.values():
            for _ in range(count):
                call()
    return layers, replay


@torch.no_grad()
def layer_ceiling(layers: dict, device: torch.device, repeats: int = 9) -> dict:
    """The per-layer ceiling, layer by layer, of the ``layers`` of ``convolutions_alone``.

    Each distinct convolution is timed by itself (median of ``repeats`` after a warm-up) and weighted
    by its count. Returns {"seconds", "flops", "layers": [{"input", "weight", "groups", "stride",
    "transposed", "channels_last", "count", "seconds_each", "gflops"}]}, slowest share first.
    """
    rows, total, total_flops = [], 0.0, 0
    for conv, (call, count) in layers.items():
        seconds, flops = timed(call, device, repeats), flops_of(call)
        total, total_flops = total + count * seconds, total_flops + count * flops
        rows.append({"input": list(conv.input), "weight": list(conv.weight), "groups": conv.groups,
                     "stride": list(conv.stride), "transposed": conv.transposed, "channels_last": conv.channels_last,
                     "count": count, "seconds_each": seconds, "gflops": flops / seconds / 1e9})
    rows.sort(key=lambda r: -r["count"] * r["seconds_each"])
    return {"seconds": total, "flops": total_flops, "layers": rows}


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
