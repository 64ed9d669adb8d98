"""GPU check (``make gpu-check``): the CUDA figures no CPU run can give, in one script of at most 8 min on one H100.

Prints, and writes as JSON (``--out``):

1. ``train``: training step time (objective, backward, grad clip 10, Adam, as ``invdn.engine``) and peak
   memory at paper scale: batch 14 (the paper's) and 28 (the official code's), 144x144 patches, with and
   without ``memory_saving``, in float32 and under AMP (bf16, and fp16 with a GradScaler on CUDA);
2. ``amp_agreement``: 50 steps from one initialisation on the same batches, float32 against each AMP
   dtype: the losses step by step (largest relative difference, last losses);
3. ``inference``: MC-16 of a 256x256 image as one batch of 16 reverse passes against a loop of 16
   batch-1 passes (images/s), and x8;
4. ``torchrun``: one process started by ``torch.distributed.run`` joins a process group (NCCL on CUDA,
   gloo on CPU) and all-reduces a training step's gradients (the collective of
   ``invdn.engine.distributed.Group.average_gradients``, which skips it with one process);
5. ``compile``: ``torch.compile`` of the model for a training step and for a denoise, and CUDA graphs
   (``mode="reduce-overhead"``) for the denoise, each against eager: speed-up, and whether it helps;
6. ``projection``: the wall time of the recipes' 600k iterations (``results/reference_numbers.yaml``,
   ``recipes``) at the measured step time of each batch, float32 and the fastest AMP.

``--device cpu --tiny`` runs the same logic at tiny sizes in seconds (what ``make test`` checks):
2-block model, 16x16 patches and images, batches 2 and 4, 2 timed steps, ``torch.compile`` with the ``eager`` backend
(inductor needs a compiler and minutes on a CPU), no CUDA graphs. Its timings mean nothing.

Usage: ``python benchmarks/gpu_check.py [--device cuda] [--tiny] [--out results/benchmarks/gpu_check.json]``
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from inference import timed  # noqa: E402  (the suite's timer: median of synchronised calls)

from invdn.inference.modes import image_generator, reverse_samples, run_mode
from invdn.losses import Objective
from invdn.models import InvDN

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Scale:
    """Sizes of one check: paper scale on a GPU, tiny on a CPU (``--tiny``)."""

    batches: tuple[int, ...]
    patch: int
    inv_blocks: int
    steps: int  # timed training steps (after ``warmup`` untimed ones)
    agreement_steps: int
    image: int  # inference side
    mc: int
    warmup: int = 2


PAPER = Scale(batches=(14, 28), patch=144, inv_blocks=8, steps=5, agreement_steps=50, image=256, mc=16)
TINY = Scale(batches=(2, 4), patch=16, inv_blocks=2, steps=2, agreement_steps=5, image=16, mc=4, warmup=1)


def recipe(name: str) -> dict:
    """{setting: value} of a recipe in results/reference_numbers.yaml (the papers' numbers live there only)."""
    ref = yaml.safe_load((ROOT / "results/reference_numbers.yaml").read_text())
    return {k: v["value"] for k, v in ref["recipes"][name]["settings"].items()}


def amp_dtypes(device: torch.device) -> dict[str, torch.dtype | None]:
    """The precisions to try: float32 ("off"), bf16 where supported, fp16 on CUDA only."""
    out: dict[str, torch.dtype | None] = {"off": None}
    if device.type == "cuda" and torch.cuda.is_bf16_supported() or device.type == "cpu":
        out["bf16"] = torch.bfloat16
    if device.type == "cuda":
        out["fp16"] = torch.float16
    return out


class Trainer:
    """One model, optimizer and AMP setting; ``step(batch)`` is the training loop's step; returns the loss."""

    def __init__(self, scale: Scale, device: torch.device, amp: torch.dtype | None, memory_saving: bool,
                 seed: int = 0, model: torch.nn.Module | None = None):
        torch.manual_seed(seed)
        self.model = InvDN(inv_blocks=scale.inv_blocks).to(device).train()
        self.model.memory_saving = memory_saving
        self.net = model or self.model  # a compiled wrapper, when given
        self.opt = torch.optim.Adam(self.model.parameters(), 2e-4)
        self.scaler = torch.amp.GradScaler("cuda", enabled=amp == torch.float16)
        self.amp, self.device, self.objective = amp, device, Objective()

    def step(self, batch: tuple[torch.Tensor, ...], seed: int = 0) -> float:
        noisy, clean, lq = batch
        with torch.autocast(self.device.type, dtype=self.amp or torch.float32, enabled=self.amp is not None):
            loss = self.objective(self.net, noisy, clean, lq, torch.Generator(self.device).manual_seed(seed))["total"]
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.opt)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 10.0)
        self.scaler.step(self.opt)
        self.scaler.update()
        return loss.item()


def batch_of(n: int, patch: int, device: torch.device, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.rand(n, 3, s, s, generator=g).to(device) for s in (patch, patch, patch // 4))


def peak_mib(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def train_steps(scale: Scale, device: torch.device) -> list[dict]:
    rows = []
    for batch in scale.batches:
        data = batch_of(batch, scale.patch, device)
        for saving in (False, True):
            for amp, dtype in amp_dtypes(device).items():
                reset_peak(device)
                t = Trainer(scale, device, dtype, saving)
                try:
                    seconds = timed(lambda: t.step(data), device, scale.steps, scale.warmup)
                except RuntimeError as e:  # e.g. out of memory: recorded, the check goes on
                    rows.append({"batch": batch, "memory_saving": saving, "amp": amp, "error": str(e).splitlines()[0]})
                    print(f"  batch {batch:2d} memory_saving={saving!s:5s} amp={amp:4s}: failed ({rows[-1]['error']})")
                    continue
                r = {"batch": batch, "patch": scale.patch, "memory_saving": saving, "amp": amp, "s_per_step": seconds,
                     "samples_per_s": batch / seconds, "peak_mib": peak_mib(device)}
                rows.append(r)
                mem = f"{r['peak_mib']:8.0f} MiB" if r["peak_mib"] is not None else "  (no CUDA peak)"
                print(f"  batch {batch:2d} {scale.patch}px memory_saving={saving!s:5s} amp={amp:4s}: "
                      f"{seconds * 1000:8.1f} ms/step {r['samples_per_s']:7.1f} samples/s peak {mem}", flush=True)
                del t
    return rows


def amp_agreement(scale: Scale, device: torch.device) -> dict:
    """Losses of ``agreement_steps`` steps from one init (seed 0) and the same batches, fp32 vs each AMP."""
    batch = scale.batches[0]
    curves = {}
    for amp, dtype in amp_dtypes(device).items():
        t = Trainer(scale, device, dtype, memory_saving=False, seed=0)
        curves[amp] = [t.step(batch_of(batch, scale.patch, device, seed=s), seed=s) for s in range(scale.agreement_steps)]
    out = {"steps": scale.agreement_steps, "batch": batch, "losses": curves}
    ref = curves["off"]
    for amp, losses in curves.items():
        if amp == "off":
            continue
        rel = [abs(a - b) / abs(b) for a, b in zip(losses, ref)]
        out[amp] = {"max_rel_diff": max(rel), "mean_rel_diff": statistics.fmean(rel), "last": losses[-1], "last_fp32": ref[-1],
                    "first": losses[0], "first_fp32": ref[0]}
        print(f"  {amp} vs fp32 over {scale.agreement_steps} steps (batch {batch}): loss max rel diff "
              f"{out[amp]['max_rel_diff']:.2e}, mean {out[amp]['mean_rel_diff']:.2e}; last {losses[-1]:.4f} vs {ref[-1]:.4f}")
    return out


@torch.no_grad()
def inference(scale: Scale, device: torch.device) -> list[dict]:
    torch.manual_seed(0)
    model = InvDN(inv_blocks=scale.inv_blocks).to(device).eval()
    x = torch.rand(1, 3, scale.image, scale.image, generator=torch.Generator().manual_seed(1)).to(device)
    gen = lambda: [image_generator(0, "gpu-check", device)]  # noqa: E731
    pixels = scale.mc * scale.image**2

    def loop():
        return torch.stack([o.mean(0) for o in reverse_samples(model, x, gen(), scale.mc, pass_pixels=scale.image**2)])

    calls = {f"mc{scale.mc} one batch": lambda: next(reverse_samples(model, x, gen(), scale.mc, pass_pixels=pixels)),
             f"mc{scale.mc} loop of {scale.mc}": loop,
             "x8": lambda: run_mode(model, x, gen(), "x8"),
             "single": lambda: run_mode(model, x, gen(), "single")}
    rows = []
    for name, fn in calls.items():
        seconds = timed(fn, device, 5 if device.type == "cuda" else 2, warmup=1)
        rows.append({"mode": name, "size": scale.image, "s_per_image": seconds, "images_per_s": 1 / seconds})
        print(f"  {name:22s} {scale.image}px: {seconds * 1000:8.1f} ms/image {1 / seconds:7.2f} images/s", flush=True)
    return rows


TORCHRUN_CHILD = """
import json, os, sys, time, torch
import torch.distributed as dist
from invdn.engine.distributed import Group
from invdn.losses import Objective
from invdn.models import InvDN
device = torch.device(sys.argv[1])
backend = "nccl" if device.type == "cuda" else "gloo"
if device.type == "cuda":
    device = torch.device("cuda", int(os.environ["LOCAL_RANK"])); torch.cuda.set_device(device)
    dist.init_process_group(backend, device_id=device)
else:
    dist.init_process_group(backend)
group = Group(dist.get_rank(), dist.get_world_size(), int(os.environ["LOCAL_RANK"]), device)
torch.manual_seed(0)
model = InvDN().to(device)  # the paper's size: the all-reduce carries its 2.6M gradients
x = torch.rand(2, 3, 32, 32, device=device)
Objective()(model, x, x, x[..., ::4, ::4], torch.Generator(device).manual_seed(0))["total"].backward()
# Group skips collectives with one process, so the all-reduce of the training loop is called directly
flat = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
before = flat.clone()
dist.all_reduce(flat)  # warm-up: the communicator is created lazily
if device.type == "cuda": torch.cuda.synchronize(device)
start = time.perf_counter()
dist.all_reduce(flat)
if device.type == "cuda": torch.cuda.synchronize(device)
ms = (time.perf_counter() - start) * 1000
print(json.dumps({"backend": dist.get_backend(), "world": group.world, "device": str(group.device),
                  "all_reduce_sum_equals_own_gradients": torch.equal(flat, before), "all_reduce_ms": ms,
                  "gradients": flat.numel()}))
dist.destroy_process_group()
"""


def torchrun(device: torch.device) -> dict:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1",
           "--no-python", sys.executable, "-c", TORCHRUN_CHILD, device.type]
    start = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    seconds = time.perf_counter() - start
    if p.returncode != 0:
        tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
        print(f"  torchrun, 1 process: FAILED (exit {p.returncode}): {' | '.join(tail)}")
        return {"ok": False, "returncode": p.returncode, "stderr_tail": tail, "seconds": seconds}
    r = json.loads(p.stdout.strip().splitlines()[-1])
    r.update(ok=r["all_reduce_sum_equals_own_gradients"], seconds=seconds)
    print(f"  torchrun, 1 process, {r['backend']} on {r['device']}: all-reduce of {r['gradients']} gradients over "
          f"world {r['world']} {'left them unchanged (ok)' if r['ok'] else 'CHANGED them'}, "
          f"{r['all_reduce_ms']:.2f} ms; {seconds:.1f} s with start-up")
    return r


def compiled(scale: Scale, device: torch.device) -> dict:
    """torch.compile for a training step and a denoise, and CUDA graphs for the denoise, against eager."""
    backend = "inductor" if device.type == "cuda" else "eager"
    out: dict = {"backend": backend}
    batch = batch_of(scale.batches[0], scale.patch, device)
    eager = Trainer(scale, device, None, False)
    comp = Trainer(scale, device, None, False)
    comp.net = torch.compile(comp.model, backend=backend)
    start = time.perf_counter()
    comp.step(batch)
    out["train_compile_s"] = time.perf_counter() - start
    out["train_eager_s"] = timed(lambda: eager.step(batch), device, scale.steps, scale.warmup)
    out["train_compiled_s"] = timed(lambda: comp.step(batch), device, scale.steps, scale.warmup)
    torch.manual_seed(0)
    model = InvDN(inv_blocks=scale.inv_blocks).to(device).eval()
    x = torch.rand(1, 3, scale.image, scale.image, generator=torch.Generator().manual_seed(1)).to(device)
    modes = {"eager": model, f"compile ({backend})": torch.compile(model, backend=backend)}
    if device.type == "cuda":
        modes["cuda graphs (reduce-overhead)"] = torch.compile(model, mode="reduce-overhead")
    else:
        out["cuda_graphs"] = "skipped: CUDA only"
    with torch.no_grad():
        ref = run_mode(model, x, [image_generator(0, "c", device)], "mc", scale.mc)
        for name, m in modes.items():
            fn = lambda m=m: run_mode(m, x, [image_generator(0, "c", device)], "mc", scale.mc)  # noqa: E731
            diff = (fn() - ref).abs().max().item()  # also the compile call
            out[f"denoise_{name}"] = {"s_per_image": timed(fn, device, 3 if device.type == "cuda" else 2, warmup=1),
                                      "max_abs_diff_vs_eager": diff}
    base = out["denoise_eager"]["s_per_image"]
    out["train_speedup"] = out["train_eager_s"] / out["train_compiled_s"]
    print(f"  train step batch {scale.batches[0]}: eager {out['train_eager_s'] * 1000:.1f} ms, compiled "
          f"{out['train_compiled_s'] * 1000:.1f} ms (x{out['train_speedup']:.2f}, compile {out['train_compile_s']:.1f} s)")
    for name in modes:
        r = out[f"denoise_{name}"]
        r["speedup"] = base / r["s_per_image"]
        r["helps"] = r["speedup"] > 1.05
        print(f"  denoise mc{scale.mc} {name:30s} {r['s_per_image'] * 1000:8.1f} ms x{r['speedup']:.2f} "
              f"max|diff| {r['max_abs_diff_vs_eager']:.1e}")
    return out


def projection(train_rows: list[dict], scale: Scale) -> list[dict]:
    """Wall time of each recipe's iterations at the measured step time of its batch (no memory_saving).

    The paper recipe's batch is timed as ``scale.batches[0]``, the official code's as ``batches[1]``
    (the same numbers at paper scale; at ``--tiny`` scale the projection only exercises the logic)."""
    rows = []
    for name, measured in zip(("paper", "official-code"), scale.batches):
        rec = recipe(name)
        iters, batch = rec["train.iterations"], rec["train.step_batch"]
        for r in train_rows:
            if r.get("batch") == measured and not r["memory_saving"] and "error" not in r:
                hours = iters * r["s_per_step"] / 3600
                rows.append({"recipe": name, "iterations": iters, "batch": batch, "measured_batch": measured,
                             "amp": r["amp"], "hours": hours})
                print(f"  {name} recipe: {iters} iterations at batch {batch} (timed at {measured}), "
                      f"amp {r['amp']}: {hours:.1f} h")
    return rows


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tiny", action="store_true", help="tiny sizes (the CPU test of this script's logic)")
    ap.add_argument("--out", type=Path, default=ROOT / "results/benchmarks/gpu_check.json")
    a = ap.parse_args(argv)
    device = torch.device(a.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: CUDA is not available on this machine; run with --device cpu --tiny to check the logic")
    scale = TINY if a.tiny else PAPER
    started = time.perf_counter()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"gpu-check on {name}, torch {torch.__version__}, {'tiny' if a.tiny else 'paper'} scale")
    res: dict = {"device": name, "torch": torch.__version__, "tiny": a.tiny, "scale": scale.__dict__}
    sections = [("train", "1. training step time and peak memory", lambda: train_steps(scale, device)),
                ("amp_agreement", "2. AMP against float32 from one initialisation", lambda: amp_agreement(scale, device)),
                ("inference", "3. MC as one batch vs a loop, and x8", lambda: inference(scale, device)),
                ("torchrun", "4. torchrun, 1 process", lambda: torchrun(device)),
                ("compile", "5. torch.compile and CUDA graphs", lambda: compiled(scale, device))]
    res["section_seconds"] = {}
    for key, title, fn in sections:
        print(title, flush=True)
        start = time.perf_counter()
        res[key] = fn()
        res["section_seconds"][key] = time.perf_counter() - start
    print("6. projected wall time")
    res["projection"] = projection(res["train"], scale)
    res["seconds"] = time.perf_counter() - started
    print(f"done in {res['seconds']:.0f} s (" + ", ".join(f"{k} {v:.0f} s" for k, v in res["section_seconds"].items()) + ")")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(res, indent=2))
    print(f"wrote {a.out}")
    return res


if __name__ == "__main__":
    main()
