"""Peak training memory and step time with and without ``memory_saving`` (reversible backprop).

Each configuration runs in a fresh child process so that one cannot inherit another's heap.
Memory is the process's resident set (Linux ``/proc/self/status``), measured in a child with large
allocations forced onto mmap (``MALLOC_MMAP_THRESHOLD_``) so that freed tensors leave the resident
set at once (what CUDA's ``max_memory_allocated`` would count). That setting makes every large
allocation a page-faulting mmap, so step time is measured in a second child with the allocator a
training run has (``invdn.inference.runtime.tune_allocator``, which the ``invdn`` command line calls):

* ``resident_mib``: after a warm-up step: torch itself, the weights, their gradients and Adam's two
  moments (``state_mib`` of these four are exact: 16 bytes per parameter);
* ``peak_mib``: the high-water mark during the timed steps (``VmHWM``, reset before each step);
* ``activations_mib``: the high-water mark of the forward and backward passes alone (before the
  optimiser step) minus ``resident_mib``: what ``memory_saving`` is about;
* ``working_mib`` = peak - resident: all a step needs on top of the resident state, including the
  optimiser's parameter-sized temporaries, which grow with depth like the parameters do.

Also with ``memory_saving`` the activations grow a little with depth, by two parameter-sized
gradient copies (8 bytes per parameter): the forward and the reverse pass of the objective share
the weights, so autograd holds the gradients returned by one pass until the other's arrive, then
adds them to ``.grad``. ``grads_in_flight_mib`` prints that amount so the remainder can be read.

Usage: ``python benchmarks/memory_saving.py [--batch 4] [--patch 144] [--blocks 4 8 16] [--steps 3]``
(prints a table; ``--out`` writes JSON). Paper-scale batch (14) is ``--batch 14``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status (Linux only)")


def child(blocks: int, memory_saving: bool, batch: int, patch: int, steps: int, threads: int) -> dict:
    import gc

    import torch

    from invdn.losses import Objective
    from invdn.models import Architecture, InvDN
    from invdn.inference.runtime import tune_allocator

    tune_allocator()  # as a training run; a no-op in the memory child (INVDN_MALLOC=default)

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = InvDN(Architecture(inv_blocks=blocks))
    model.memory_saving = memory_saving
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)
    objective = Objective()
    g = torch.Generator().manual_seed(0)
    noisy = torch.rand(batch, 3, patch, patch, generator=g)
    clean = torch.rand(batch, 3, patch, patch, generator=g)
    lq = torch.rand(batch, 3, patch // 4, patch // 4, generator=g)

    peaks = {"backward": 0, "step": 0}

    def step(i: int) -> float:
        Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark VmHWM
        start = time.perf_counter()
        opt.zero_grad(set_to_none=False)  # keep the gradient buffers: they belong to the resident state
        objective(model, noisy, clean, lq, torch.Generator().manual_seed(i))["total"].backward()
        peaks["backward"] = max(peaks["backward"], _status_kib("VmHWM"))
        opt.step()
        seconds = time.perf_counter() - start
        peaks["step"] = max(peaks["step"], _status_kib("VmHWM"))
        return seconds

    step(0)
    gc.collect()
    resident = _status_kib("VmRSS")
    peaks = {"backward": 0, "step": 0}
    times = [step(i + 1) for i in range(steps)]
    params = model.num_parameters()
    return {
        "inv_blocks": blocks, "memory_saving": memory_saving, "batch": batch, "patch": patch,
        "parameters": params, "state_mib": 16 * params / 2**20, "grads_in_flight_mib": 8 * params / 2**20,
        "resident_mib": resident / 1024,
        "peak_mib": peaks["step"] / 1024, "activations_mib": (peaks["backward"] - resident) / 1024,
        "working_mib": (peaks["step"] - resident) / 1024,
        "step_s": statistics.median(times), "threads": threads,
    }


def run_child(blocks: int, saving: bool, batch: int, patch: int, steps: int, threads: int,
              exact_memory: bool = True) -> dict:
    """``child(...)`` in a fresh process: with ``exact_memory`` (large allocations on mmap) for the memory
    figures, else with the training run's allocator settings for the step time."""
    env = dict(os.environ)
    if exact_memory:
        env.update(MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="0", INVDN_MALLOC="default")
    cmd = [sys.executable, __file__, "--child", str(blocks), str(int(saving)), "--batch", str(batch),
           "--patch", str(patch), "--steps", str(steps), "--threads", str(threads)]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--patch", type=int, default=144)
    ap.add_argument("--blocks", type=int, nargs="+", default=[4, 8, 16])
    ap.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up (median reported)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--no-time", action="store_true", help="memory only (skip the timing children)")
    ap.add_argument("--child", nargs=2, metavar=("BLOCKS", "SAVING"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(int(a.child[0]), a.child[1] == "1", a.batch, a.patch, a.steps, a.threads)))
        return

    rows = []
    for blocks in a.blocks:
        for saving in (False, True):
            r = run_child(blocks, saving, a.batch, a.patch, a.steps, a.threads)
            if not a.no_time:
                r["step_s"] = run_child(blocks, saving, a.batch, a.patch, a.steps, a.threads, exact_memory=False)["step_s"]
            rows.append(r)
            print(f"inv_blocks {blocks:2d} x2  memory_saving={str(saving):5s}  params {r['parameters']:>9,}  "
                  f"peak {r['peak_mib']:7.0f} MiB  resident {r['resident_mib']:6.0f} MiB  "
                  f"activations {r['activations_mib']:6.0f} MiB  working {r['working_mib']:6.0f} MiB  "
                  f"step {r['step_s']:6.2f} s", flush=True)

    print(f"\nbatch {a.batch}, {a.patch}x{a.patch} patches, {a.threads} threads")
    for saving in (False, True):
        sel = [r for r in rows if r["memory_saving"] == saving]
        for r in sel:
            r["activations_less_grads_mib"] = r["activations_mib"] - r["grads_in_flight_mib"]
        keys = ("peak_mib", "activations_mib", "activations_less_grads_mib")
        ratio = {k: max(r[k] for r in sel) / min(r[k] for r in sel) for k in keys}
        print(f"memory_saving={saving}: across depths max/min: peak {ratio['peak_mib']:.3f}, "
              f"activations {ratio['activations_mib']:.3f}, activations less the gradients in flight "
              f"{ratio['activations_less_grads_mib']:.3f} "
              f"({', '.join(f'{r[keys[2]]:.0f}' for r in sel)} MiB)")
    for blocks in a.blocks:
        off, on = (next(r for r in rows if r["inv_blocks"] == blocks and r["memory_saving"] == s) for s in (False, True))
        print(f"inv_blocks {blocks:2d}: peak on/off {on['peak_mib'] / off['peak_mib']:.2f}, "
              f"activations on/off {on['activations_mib'] / off['activations_mib']:.2f}, "
              f"step time on/off {on['step_s'] / off['step_s']:.2f}")
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
