"""The official InvDN code against ours, in one process, on equal footing (``suite.py --official PATH``).

Both networks hold the same weights (our state-dict names are the official ones), run with the same
thread count and the same allocator setting (whatever this process has: ``suite.py`` tunes it at start
as the library does; ``INVDN_MALLOC=default`` runs both on glibc's defaults), on the same 256x256
float32 image. "Ours" is the model as a library user gets it: ``InvDN()`` with the weights loaded,
then ``run_mode`` (no preparation call). "Official" is its ``InvNet`` as its test code runs it: one
forward, then one reverse pass per z draw (``MC_test``: a loop of batch-1 reverse passes).

The calls are interleaved (official, ours, ours bf16, ..., and the 3x3-conv limit's two 64->64 layer
shapes, so that the share of the limit compares figures of the same rounds) and each figure is the
median of its repeats, so a load that other processes put on the machine hits all contenders alike as far as
it can. Nothing of the official code is copied here: it is imported from the checkout path given.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from inference import convolutions_alone, flops_of, layer_ceiling  # benchmarks/ (suite.py puts it on sys.path)
from invdn.inference.modes import image_generator, run_mode
from invdn.models import InvDN

TARGETS = {"single": 1.25, "mc16": 1.4, "bf16_single_vs_official_fp32": 2.0}
"""The issue's speed-up targets (issue 19), ours over the official float32 code."""


def load_official(path: Path, state: dict) -> torch.nn.Module:
    """The official ``InvNet`` (2 Haar scales x 8 ResBlock couplings) from a checkout at ``path``
    (its root or its ``codes`` folder), holding ``state``; eval mode.

    Raises:
        FileNotFoundError: ``path`` holds no ``codes/models/modules/Inv_arch.py``.
    """
    codes = path / "codes" if (path / "codes").is_dir() else path
    if not (codes / "models/modules/Inv_arch.py").is_file():
        raise FileNotFoundError(f"--official {path}: no codes/models/modules/Inv_arch.py there; pass a checkout "
                                "of https://github.com/Yang-Liu1082/InvDN (its root or its codes/ folder)")
    sys.path.insert(0, str(codes))
    try:
        from models.modules.Inv_arch import InvNet
        from models.modules.Subnet_constructor import subnet
    finally:
        sys.path.remove(str(codes))
    net = InvNet(3, 3, subnet("Resnet"), [8, 8], 2)
    net.load_state_dict(state)
    return net.eval()


def official_denoise(net: torch.nn.Module, x: torch.Tensor, generator: torch.Generator, draws: int) -> torch.Tensor:
    """The official test: forward, then ``draws`` reverse passes of [lr ; z ~ N(0, I)] one at a time, averaged."""
    out = net(x)
    lr, z_shape = out[:, :3], out[:, 3:].shape
    total = torch.zeros_like(x)
    for _ in range(draws):
        total += net(torch.cat((lr, torch.randn(z_shape, generator=generator)), 1), rev=True)
    return total / draws


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@torch.no_grad()
def compare(official: Path, size: int, repeats: int, mc: int, limit: dict) -> dict:
    """Interleaved medians of official vs ours (single, MC-``mc``, bf16 single); see the module docstring.

    Ours' single draw's convolutions, each run by itself (``inference.convolutions_alone``), join the
    rounds as one more contender: the per-layer ceiling, with the shares of the conv limit it and ours
    reach, round by round; its layers are also timed one by one after the rounds (``layer_ceiling``)."""
    torch.manual_seed(0)
    ours = InvDN().eval()  # the library default: auto layout, float32
    net = load_official(official, ours.state_dict())
    ours_bf16 = InvDN().eval()
    ours_bf16.load_state_dict(ours.state_dict())
    ours_bf16.precision = "bf16"
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    gen = lambda: [image_generator(0, "bench")]  # noqa: E731 - the same z in every call
    calls = {
        "official single": lambda: official_denoise(net, x, torch.Generator().manual_seed(0), 1),
        "ours single": lambda: run_mode(ours, x, gen(), "single"),
        "ours bf16 single": lambda: run_mode(ours_bf16, x, gen(), "single"),
        f"official mc{mc}": lambda: official_denoise(net, x, torch.Generator().manual_seed(0), mc),
        f"ours mc{mc}": lambda: run_mode(ours, x, gen(), "mc", mc),
    }
    conv_w = torch.randn(64, 64, 3, 3).contiguous(memory_format=torch.channels_last)
    conv_x = {f"conv64_b{b}_{side}": torch.randn(b, 64, side, side).contiguous(memory_format=torch.channels_last)
              for b, side in ((1, 128), (16, 64))}  # InvDN's 64->64 layer shapes at 256x256
    for key, inp in conv_x.items():  # the 3x3-conv limit, timed in the same rounds as the models
        calls[key] = lambda inp=inp: F.conv2d(inp, conv_w, padding=1)
    layers, replay = convolutions_alone(calls["ours single"], torch.device("cpu"))
    calls["ours single, convolutions alone"] = replay  # the per-layer ceiling, timed in the same rounds
    flops = {name: flops_of(fn) for name, fn in calls.items() if name == "ours single" or name.startswith("conv")}
    for fn in calls.values():  # warm-up: layouts, oneDNN primitives, the allocator's heap
        fn()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for r in range(repeats):
        for name, fn in calls.items():
            if "mc" in name and r >= max(1, (repeats + 1) // 2):  # MC calls: 16 draws each, in half the rounds
                continue
            times[name].append(_timed(fn))
    med = {name: statistics.median(t) for name, t in times.items()}

    def paired(num: str, den: str) -> float:  # median over rounds of the ratio within a round
        return statistics.median(a / b for a, b in zip(times[num], times[den]))
    conv_gflops = {k: flops[k] / med[k] / 1e9 for k in conv_x}
    interleaved_limit = max(conv_gflops.values())
    rounds = range(len(times["ours single"]))

    def round_limit(i: int) -> float:  # FLOP/s of the best conv shape in round i
        return max(flops[k] / times[k][i] for k in conv_x)

    def share(name: str) -> float:  # of the single draw's FLOPs per second, over round i's limit; median
        return statistics.median(flops["ours single"] / times[name][i] / round_limit(i) for i in rounds)
    ceiling = layer_ceiling(layers, torch.device("cpu"))
    lr = ours(x)[:, :3]  # the same weights and the same z: both paths must agree to float32 round-off
    z = torch.randn(1, 45, size // 4, size // 4, generator=torch.Generator().manual_seed(2))
    latent, back = ours(x), ours(torch.cat((lr, z), 1), rev=True)
    latent_diff = ((latent - net(x)).abs().max() / latent.abs().max()).item()
    image_diff = ((back - net(torch.cat((lr, z), 1), rev=True)).abs().max() / back.abs().max()).item()
    res = {"size": size, "threads": torch.get_num_threads(), "seconds": times, "median_s": med,
           "ratio_single": paired("official single", "ours single"),
           f"ratio_mc{mc}": paired(f"official mc{mc}", f"ours mc{mc}"),
           "ratio_bf16_single_vs_official_fp32": paired("official single", "ours bf16 single"),
           "ratio_of_medians": {"single": med["official single"] / med["ours single"],
                                f"mc{mc}": med[f"official mc{mc}"] / med[f"ours mc{mc}"],
                                "bf16_single": med["official single"] / med["ours bf16 single"]},
           "conv_gflops_interleaved": conv_gflops, "float32_limit_interleaved": interleaved_limit,
           "float32_limit_suite": limit["float32"],
           "ours_single_of_float32_limit": share("ours single"),
           "official_single_of_float32_limit": share("official single"),
           "ours_single_of_suite_limit": flops["ours single"] / med["ours single"] / 1e9 / limit["float32"],
           "gflop_single": flops["ours single"] / 1e9,
           "max_rel_diff_latent": latent_diff, "max_rel_diff_reverse": image_diff}
    res["ceiling_of_float32_limit"] = share("ours single, convolutions alone")
    res["ours_single_of_ceiling"] = paired("ours single, convolutions alone", "ours single")
    res["layer_ceiling"] = ceiling
    for name, t in med.items():
        print(f"  {name:31s} {t:7.3f} s (median of {len(times[name])}; all: {', '.join(f'{s:.3f}' for s in times[name])})")
    print(f"  fp32 3x3-conv limit in the same rounds: {interleaved_limit:.0f} GFLOP/s "
          f"({', '.join(f'{k} {v:.0f}' for k, v in conv_gflops.items())}; section 1 measured {limit['float32']:.0f})")
    print(f"  ours / official, single draw: x{res['ratio_single']:.2f} (target >= {TARGETS['single']}); "
          f"ours {100 * res['ours_single_of_float32_limit']:.0f}% of that round's conv limit, official "
          f"{100 * res['official_single_of_float32_limit']:.0f}%")
    print(f"  per-layer ceiling (ours' single draw's convolutions, each run alone): "
          f"{100 * res['ceiling_of_float32_limit']:.0f}% of that round's conv limit; ours runs at "
          f"{100 * res['ours_single_of_ceiling']:.0f}% of the ceiling's speed")
    print(f"  its slowest layers ({sum(r['count'] for r in ceiling['layers'])} convolutions in all), timed once:")
    for r in ceiling["layers"][:5]:
        print(f"    {r['count']:3d} x conv {r['input']} * {r['weight']}: {1e3 * r['seconds_each']:.2f} ms each, "
              f"{r['gflops']:.0f} GFLOP/s")
    print(f"  same weights and z: max|ours - official| / max|ours|: latent {latent_diff:.1e}, reverse pass {image_diff:.1e}")
    print("  ratios: median over rounds of official / ours within a round (ratio of the medians in the JSON)")
    print(f"  ours / official, MC-{mc}: x{res[f'ratio_mc{mc}']:.2f} (target >= {TARGETS['mc16']})")
    print(f"  ours bf16 / official fp32, single draw: x{res['ratio_bf16_single_vs_official_fp32']:.2f} "
          f"(target >= {TARGETS['bf16_single_vs_official_fp32']})")
    return res
