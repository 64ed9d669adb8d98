"""Training InvDN with the official objective; resumable to the same trajectory.

Everything random is a function of the seed: initialisation (torch.manual_seed), patches and
augmentations (per sample, see ``TrainPatches``) and z_hf (a generator re-seeded from (seed, step)).
A resumed run therefore produces the same weights as an uninterrupted one (bit for bit on CPU).
Checkpoints live in ``<out_dir>/checkpoints/<trajectory hash>/`` so a run with a different
config never resumes from another's checkpoint. SIGTERM and Ctrl-C finish the current step,
save a checkpoint and then stop. With ``train.processes`` > 1 (torchrun) the processes train one
model on slices of the same batches (``invdn.distributed``).
"""
from __future__ import annotations

import contextlib
import logging
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from . import checkpoint, distributed
from .config import ConfigError, RunConfig
from .data import TrainPatches, find_pairs
from .ensembles import Mode
from .evaluate import Denoiser, invdn_denoiser, score_pairs
from .losses import Objective
from .metrics import CANONICAL
from .models import InvDN
from .tracking import NullLogger, Terminated

log = logging.getLogger(__name__)


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or Inf; the message names the step, the source files and a checkpoint."""


@dataclass
class TrainResult:
    model_path: Path
    step: int
    last_losses: dict[str, float]
    val: dict[str, float]


def resolve_device(name: str) -> torch.device:
    """torch.device(name), with a clear error when CUDA is asked for but absent."""
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested but CUDA is not available; set train.device: cpu")
    return device


def step_generator(seed: int, step: int, device: torch.device) -> torch.Generator:
    """The generator of z_hf at ``step``: re-seeded per step so resuming needs no RNG state."""
    derived = np.random.SeedSequence([seed, 0x5A, step]).generate_state(1, np.uint64)[0]
    return torch.Generator(device=device).manual_seed(int(derived))


@contextlib.contextmanager
def _graceful_stop() -> Iterator[dict]:
    """SIGTERM/SIGINT set a flag checked between steps; a second signal stops at once."""
    flag = {"signal": None}

    def handler(signum, frame):
        if flag["signal"] is not None:
            raise KeyboardInterrupt
        flag["signal"] = signum

    try:
        previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    except ValueError:  # not the main thread
        yield flag
        return
    try:
        yield flag
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _rotating(ckpt_dir: Path) -> list[Path]:
    """The rotating checkpoints of a run, newest first (``step<8 digits>.pt``)."""
    return sorted(ckpt_dir.glob("step[0-9]*.pt"), reverse=True)


def _newest_loadable(ckpt_dir: Path, traj: str, device: torch.device, logger) -> tuple[dict | None, Path | None]:
    """The newest checkpoint of ``ckpt_dir`` that loads, with a warning (logged to MLflow as the tag
    ``skipped_checkpoints``) for each newer one that does not (truncated, other version)."""
    candidates = _rotating(ckpt_dir) + [p for p in (ckpt_dir / "last.pt",) if p.exists()]  # last.pt: older runs
    skipped = []
    for path in candidates:
        try:
            state = checkpoint.load(path, checkpoint.TRAINING_FORMAT, map_location=device)
        except checkpoint.CheckpointError as e:
            log.warning("skipping unusable checkpoint: %s", e)
            skipped.append(f"{path.name}: {e}")
            continue
        if state.get("trajectory_hash") != traj:
            raise checkpoint.CheckpointError(f"{path}: written by a different configuration")
        if skipped:
            logger.set_tags({"skipped_checkpoints": "; ".join(skipped)[:5000]})
        return state, path
    if skipped:
        raise checkpoint.CheckpointError(
            f"{ckpt_dir}: no usable checkpoint ({'; '.join(skipped)}); delete the folder to start over"
        )
    return None, None


@dataclass
class Task:
    """What the training loop trains: one model, its loss and how validation denoises with it.

    ``loss(batch, generator)`` takes a batch of ``TrainPatches`` (noisy, clean (N, 3, P, P), lq,
    float in [0, 1], on the device) and returns {"total": scalar, <part>: scalar, ...}; the parts
    are logged as ``loss_<part>``. ``arch`` is stored in checkpoints to rebuild the model.
    The total is a mean over the batch and draws from ``generator`` are torch.randn/torch.rand of
    (N, ...) tensors: with several processes each computes its share of the step's batch exactly
    (``invdn.distributed``).
    ``lq_scale`` is the factor of the batch's LQ patches.
    """

    model: torch.nn.Module
    loss: Callable[[dict, torch.Generator], dict[str, torch.Tensor]]
    denoiser: Callable[[], Denoiser]
    arch: dict
    lq_scale: int


def invdn_task(cfg: RunConfig) -> Task:
    """InvDN and the official objective (paper §3.3, losses of train_InvDN.yml)."""
    t = cfg.train
    model = InvDN(cfg.model)
    model.memory_saving = t.memory_saving
    objective = Objective(t.forward_loss, t.backward_loss, t.lambda_forward, t.lambda_backward, t.charbonnier_eps,
                          lambda_gradient=t.lambda_gradient, lambda_ssim=t.lambda_ssim)
    return Task(
        model=model,
        loss=lambda batch, gen: objective(model, batch["noisy"], batch["clean"], batch["lq"], gen),
        denoiser=lambda: invdn_denoiser(model, Mode.SINGLE, 1, t.seed),
        arch=cfg.model.to_dict(),
        lq_scale=model.scale,
    )


def build_optim(model: torch.nn.Module, cfg: RunConfig):
    t = cfg.train
    opt = torch.optim.Adam(model.parameters(), lr=t.lr, betas=tuple(t.betas), weight_decay=t.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(t.lr_milestones), gamma=t.lr_gamma)
    return opt, sched


def train(
    cfg: RunConfig,
    out_dir: str | Path,
    resume: bool = True,
    logger=None,
    progress: bool = True,
    run_info: dict | None = None,
    task: Callable[[RunConfig], Task] = invdn_task,
    code_version: str | None = None,
) -> TrainResult:
    """Train for ``cfg.train.iterations`` steps and write ``<out_dir>/model.pt``.

    Args:
        cfg: validated run configuration.
        out_dir: run folder; holds ``model.pt`` and ``checkpoints/<hash>/step<N>.pt (the newest keep_checkpoints)``.
        resume: continue from this config's last checkpoint when one exists.
        logger: an ``MlflowLogger`` (or anything with its methods); default logs nothing.
        run_info: extra metadata stored in the model file (name, scale, MLflow run id).
        task: builds the model and its loss from ``cfg`` (default InvDN; the learned baselines
            pass theirs), called after seeding so initialisation is a function of the seed.
        code_version: a hash of the training code (the DAG's ``code_version``); checkpoints are kept
            per code version, so after a change to the model or training code the run starts again
            instead of resuming, or reusing, weights the old code made.

    The validation history (step, val_psnr, val_ssim) travels in the checkpoints and the model file
    (``val_history``), and a resumed run logs it again to its own MLflow run, so the run that wrote
    ``model.pt`` holds the whole training curve (paper Fig. 5).

    Checkpoints ``checkpoints/<hash>/step<N>.pt`` are written atomically every
    ``checkpoint_every`` steps, the newest ``keep_checkpoints`` kept; resuming takes the newest one
    that loads and reports (log, MLflow tag ``skipped_checkpoints``) any newer one that did not.

    Several processes (``train.processes`` > 1, started by torchrun, see ``invdn.distributed``) train
    one model on batches of processes x batch_size, the trajectory of one process with that batch (up
    to round-off); only rank 0 logs, validates and writes files, and every rank returns once
    ``model.pt`` is written. A NaN/Inf loss or a signal on any rank stops (or rolls back) all of them
    at the same step.

    Raises:
        NonFiniteLossError: the loss became NaN/Inf (weights before that step are saved) more often
            than ``train.nan_rollbacks`` allows; each allowed time, training goes back to the newest
            checkpoint with the lr multiplied by ``train.nan_lr_factor`` (MLflow tags ``nan_rollback_<k>``).
        tracking.Terminated: SIGTERM/SIGINT arrived (a checkpoint of the last full step is saved).
        ConfigError: torchrun started a number of processes other than ``train.processes``.
    """
    t = cfg.train
    if t.threads:
        torch.set_num_threads(t.threads)
    with distributed.process_group(t.processes, resolve_device(t.device)) as group:
        return _train(cfg, Path(out_dir), resume, logger if group.main else None, progress and group.main,
                      run_info, task, group, code_version)


def _train(cfg: RunConfig, out_dir: Path, resume: bool, logger, progress: bool, run_info: dict | None,
           task: Callable[[RunConfig], Task], group: distributed.Group, code_version: str | None) -> TrainResult:
    """``train`` within the run's process group (one process: ``distributed.Group()``)."""
    t = cfg.train
    logger = logger or NullLogger()
    device = group.device

    pairs = find_pairs(cfg.data.train, require_lq=True)
    torch.manual_seed(t.seed)
    job = task(cfg)
    model = group.sync_batchnorm(job.model).to(device)
    if device.type == "cpu":  # oneDNN's convolutions are faster in NHWC (1.04-1.15x per step measured)
        model = model.to(memory_format=torch.channels_last)
    dataset = TrainPatches(pairs, t.patch_size, job.lq_scale, t.seed, noise_gain_max=t.noise_gain_max,
                           channel_shuffle=t.channel_shuffle)
    val_pairs = find_pairs(cfg.data.val)
    if t.val_images:
        val_pairs = val_pairs[: t.val_images]
    opt, sched = build_optim(model, cfg)
    amp_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(t.amp)
    if amp_dtype == torch.float16 and device.type != "cuda":
        raise ConfigError(f"train.amp fp16 needs a CUDA device (got {device}); on CPU use bf16 or off")
    use_amp = amp_dtype is not None  # bf16 also on CPU (AVX512-BF16/AMX: 2.2x per step, benchmarks/suite.py)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)

    traj = cfg.trajectory_hash()
    ckpt_dir = out_dir / "checkpoints" / (traj[:12] + (f"-code{code_version}" if code_version else ""))
    step, rollbacks = 0, 0
    lr_scale = 1.0  # product of the nan_lr_factor of every rollback so far (its lr is in the optimizer state)
    history: list[dict] = []  # validation points, {"step", "val_psnr", "val_ssim"}

    def restore(state: dict) -> int:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["torch_rng"])
        return int(state["step"])

    if resume:
        state, path = _newest_loadable(ckpt_dir, traj, device, logger)
        if state is not None:
            step, rollbacks = restore(state), int(state.get("nan_rollbacks", 0))
            lr_scale = float(state.get("lr_scale", 1.0))
            history = [h for h in state.get("val_history", []) if h["step"] <= step]
            for h in history:  # this run holds the whole curve, not only the steps after the resume
                logger.log_metrics({"val_psnr": h["val_psnr"], "val_ssim": h["val_ssim"]}, step=h["step"])
            log.info("resumed from %s at step %d", path, step)
    group.broadcast(model)

    def save_training(path: Path | None = None) -> None:
        if not group.main:
            return
        rotating = path is None
        path = path or ckpt_dir / f"step{step:08d}.pt"
        checkpoint.save(path, {
            "format": checkpoint.TRAINING_FORMAT,
            "arch": job.arch,
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "scaler": scaler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "step": step,
            "nan_rollbacks": rollbacks,
            "lr_scale": lr_scale,
            "val_history": history,
            "config": cfg.to_dict(),
            "trajectory_hash": traj,
        })
        if rotating:  # keep the newest keep_checkpoints: an unreadable newest one falls back to the next
            for old in _rotating(ckpt_dir)[t.keep_checkpoints:]:
                old.unlink(missing_ok=True)

    def validate() -> dict[str, float]:
        model.eval()
        scores = score_pairs(job.denoiser(), val_pairs, device, protocols=[CANONICAL])
        model.train()
        return {"val_psnr": float(np.mean([s.psnr for s in scores])), "val_ssim": float(np.mean([s.ssim for s in scores]))}

    def batches(start: int) -> DataLoader:
        """The run's batches from step ``start`` on (the same ones after a resume or a rollback)."""
        return DataLoader(
            dataset,
            batch_size=t.batch_size,
            sampler=group.samples(start, t.iterations, t.batch_size),
            num_workers=t.num_workers,
            pin_memory=device.type == "cuda",
            drop_last=True,
        )

    def roll_back(message: str) -> int:
        """After a non-finite loss: back to the newest checkpoint with the lr scaled down, recorded in MLflow.

        The reductions accumulate: the k-th rollback runs at nan_lr_factor**k times the schedule's lr, also
        when it goes back to a checkpoint written before an earlier rollback (whose optimizer holds a larger lr).
        """
        nonlocal lr_scale
        state, path = _newest_loadable(ckpt_dir, traj, device, logger)
        if state is None:
            raise NonFiniteLossError(f"{message}; no checkpoint to roll back to (checkpoint_every {t.checkpoint_every})")
        back = restore(state)
        history[:] = [h for h in history if h["step"] <= back]
        target = lr_scale * t.nan_lr_factor
        for param_group in opt.param_groups:
            param_group["lr"] *= target / float(state.get("lr_scale", 1.0))
        lr_scale = target
        lr = opt.param_groups[0]["lr"]
        log.warning("%s; rolled back to %s (step %d), lr now %g", message, path, back, lr)
        logger.set_tags({"nan_rollbacks": str(rollbacks + 1),
                         f"nan_rollback_{rollbacks + 1}": f"{message}; rolled back to step {back}, lr {lr:g}"[:5000]})
        logger.log_metrics({"nan_rollback_lr": lr}, step=back)
        return back

    if step == 0 and t.nan_rollbacks:  # a NaN before the first periodic checkpoint still has one to go back to
        save_training()

    losses: dict[str, float] = {}
    val: dict[str, float] = {}
    model.train()
    # in a log file (Snakemake jobs) a progress line every 30 s, not every 0.1 s
    bar = tqdm(total=t.iterations, initial=step, desc="train", unit="it", disable=not progress, dynamic_ncols=True,
               mininterval=0.1 if sys.stderr.isatty() else 30)
    tick, tick_step = time.perf_counter(), step
    with _graceful_stop() as stop:
        try:
            while step < t.iterations:
                for batch in batches(step):
                    batch.update({k: batch[k].to(device, non_blocking=True) for k in ("noisy", "clean", "lq")})
                    gen = step_generator(t.seed, step, device)
                    with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=use_amp), \
                            group.rank_rows(gen, t.batch_size):
                        out = job.loss(batch, gen)
                    parts = group.mean(out)  # the whole step's batch: non-finite on every rank when on any
                    if not torch.isfinite(parts["total"]):
                        bad = ckpt_dir / f"before_nonfinite_step{step + 1}.pt"
                        save_training(bad)
                        files = sorted({str(pairs[i].noisy) for i in group.gather(batch["index"]).tolist()})
                        terms = ", ".join(f"{k} {v.item()}" for k, v in parts.items() if k != "total")
                        message = (f"loss is {parts['total'].item()} at step {step + 1} ({terms}); "
                                   f"batch from: {', '.join(files)}; weights before this step: {bad}")
                        if rollbacks >= t.nan_rollbacks:
                            group.barrier()  # rank 0 has written the checkpoint the message names
                            raise NonFiniteLossError(message)
                        step = roll_back(message)
                        rollbacks += 1
                        bar.reset(total=t.iterations)
                        bar.update(step)
                        break  # restart the batches at the restored step
                    opt.zero_grad(set_to_none=True)
                    scaler.scale(out["total"]).backward()
                    group.average_gradients(model.parameters())
                    if t.grad_clip > 0:
                        scaler.unscale_(opt)
                        torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
                    scaler.step(opt)
                    scaler.update()
                    sched.step()
                    step += 1
                    losses = {k: v.item() for k, v in parts.items()}
                    bar.update(1)
                    bar.set_postfix(loss=f"{losses['total']:.3g}", refresh=False)

                    if step % t.log_every == 0 or step == t.iterations:
                        now = time.perf_counter()
                        rate = (step - tick_step) / max(now - tick, 1e-9)
                        tick, tick_step = now, step
                        logger.log_metrics({
                            "loss": losses["total"], **{f"loss_{k}": v for k, v in losses.items() if k != "total"},
                            "lr": opt.param_groups[0]["lr"], "iterations_per_s": rate,
                        }, step=step)
                    if (t.val_every and step % t.val_every == 0) or step == t.iterations:
                        if group.main:
                            val = validate()
                            history.append({"step": step, **val})
                            logger.log_metrics(val, step=step)
                            bar.write(f"step {step}: val PSNR {val['val_psnr']:.2f} dB, SSIM {val['val_ssim']:.4f}")
                        group.barrier()
                    if step % t.checkpoint_every == 0 or step == t.iterations:
                        save_training()
                    if group.any(stop["signal"] is not None):  # every rank stops after the same step
                        save_training()
                        group.barrier()  # torchrun stops the others when one exits: not before the checkpoint
                        by = stop["signal"] if stop["signal"] is not None else "(received by another process)"
                        raise Terminated(f"stopped by signal {by} after step {step}; resume with --resume")
                else:
                    break  # the batches ran out: step == iterations
        finally:
            bar.close()

    if step < t.iterations:
        raise RuntimeError(f"training stopped at step {step} of {t.iterations}")
    if not val and history and history[-1]["step"] == step:  # resumed at the end: the final validation is kept
        val = {k: history[-1][k] for k in ("val_psnr", "val_ssim")}
    model_path = out_dir / "model.pt"
    if group.main:
        checkpoint.save(model_path, checkpoint.model_state(
            model.cpu(), arch=job.arch, step=step, config=cfg.to_dict(), trajectory_hash=traj,
            num_parameters=sum(p.numel() for p in model.parameters()), val=val, val_history=history,
            code_version=code_version, **(run_info or {}),
        ))
    group.barrier()  # model.pt exists when any rank returns
    return TrainResult(model_path, step, losses, val)
