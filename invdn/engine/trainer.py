"""Training InvDN with the official objective; resumable to the same trajectory.

``train`` builds the run and hands it to the loop (``invdn.engine.loop``) with its hooks, each in
its own module: the NaN guard (``nan_guard``), the loss log (``loss_log``), validation
(``validation``), periodic checkpoints (``checkpointing``) and stopping on a signal (``signals``);
precision is ``amp``'s, the processes' collectives ``distributed``'s, the file format ``checkpoint``'s.

Everything random is a function of the seed: initialisation (torch.manual_seed), patches and
augmentations (per sample, see ``TrainPatches``) and z_hf (a generator re-seeded from (seed, step)).
A resumed run therefore produces the same weights as an uninterrupted one (bit for bit on CPU).
Checkpoints live in ``<out_dir>/checkpoints/<trajectory hash>/`` so a run with a different
config never resumes from another's checkpoint. SIGTERM and Ctrl-C finish the current step,
save a checkpoint and then stop. With ``train.processes`` > 1 (torchrun) the processes train one
model on slices of the same batches (``invdn.engine.distributed``).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from invdn.config import RunConfig
from invdn.data import ImagePair, TrainPatches, find_pairs
from invdn.engine import checkpoint, distributed, run_lock
from invdn.engine.amp import Amp
from invdn.engine.checkpointing import Checkpoints, PeriodicCheckpoint, checkpoint_dir
from invdn.engine.loop import Loop, TrainState, Training, step_generator
from invdn.engine.loss_log import LossLog
from invdn.engine.nan_guard import NanGuard, NonFiniteLossError
from invdn.engine.signals import StopOnSignal
from invdn.engine.task import Task, invdn_task
from invdn.engine.validation import Validation
from invdn.inference.runtime import resolve_device, set_threads
from invdn.tracking.logger import NullLogger

# NonFiniteLossError and step_generator are defined beside the parts of the loop that use them and
# belong to this module's interface too, where callers have always imported them from.
__all__ = ["NonFiniteLossError", "Task", "TrainResult", "build_optim", "invdn_task", "step_generator", "train"]


@dataclass
class TrainResult:
    model_path: Path
    step: int
    last_losses: dict[str, float]
    val: dict[str, float]


def build_optim(model: torch.nn.Module, cfg: RunConfig):
    """(Adam, MultiStepLR) of ``model``'s parameters with ``cfg.train``'s lr, betas, weight decay and milestones."""
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

    Checkpoints (``invdn.engine.checkpointing``) are written atomically every ``checkpoint_every`` steps;
    resuming takes the newest one that loads and reports (MLflow tag ``skipped_checkpoints``) any that did not.

    Several processes (``train.processes`` > 1, started by torchrun, see ``invdn.engine.distributed``) train
    one model on batches of processes x batch_size, the trajectory of one process with that batch (up
    to round-off); only rank 0 logs, validates and writes files, and every rank returns once
    ``model.pt`` is written. A NaN/Inf loss or a signal on any rank stops (or rolls back) all of them
    at the same step.

    Raises:
        NonFiniteLossError: the loss became NaN/Inf (weights before that step are saved) more often
            than ``train.nan_rollbacks`` allows; each allowed time, training goes back to the newest
            checkpoint with the lr multiplied by ``train.nan_lr_factor`` (MLflow tags ``nan_rollback_<k>``).
        tracking.Terminated: SIGTERM/SIGINT arrived (a checkpoint of the last full step is saved).
        OSError(EBUSY): another process is training in ``out_dir`` (``invdn.engine.run_lock``).
        ConfigError: torchrun started a number of processes other than ``train.processes``; fp16 not on CUDA.
    """
    t, out_dir = cfg.train, Path(out_dir)
    set_threads(t.threads)
    with distributed.process_group(t.processes, resolve_device(t.device)) as group, \
            run_lock.exclusive(out_dir) if group.main else contextlib.nullcontext():  # the other ranks share it
        logger = (logger if group.main else None) or NullLogger()  # only rank 0 logs
        training, val_pairs = _build(cfg, task, group)
        checkpoints = Checkpoints(checkpoint_dir(out_dir, cfg, code_version), cfg, training, group, logger)
        state = checkpoints.resume() if resume else TrainState()
        group.broadcast(training.model)
        hooks = [NanGuard(checkpoints, t, logger), LossLog(t.log_every, logger),  # called in this order
                 Validation(val_pairs, t.val_every, logger), PeriodicCheckpoint(checkpoints, t.checkpoint_every),
                 StopOnSignal(checkpoints)]
        Loop(t, training, group, state, hooks, progress=progress and group.main).run()
        return _write_model(out_dir / "model.pt", cfg, training, state, group, code_version, run_info)


def _build(cfg: RunConfig, task: Callable[[RunConfig], Task],
           group: distributed.Group) -> tuple[Training, list[ImagePair]]:
    """What the run trains, and its validation pairs. The order fixes the random draws: the seed is
    set just before the task builds (and so initialises) its model.

    Raises:
        DataLayoutError: missing or malformed data folders.
        ConfigError: ``train.amp`` fp16 on a device other than CUDA; BatchNorm on several CPU processes.
    """
    t, device = cfg.train, group.device
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
    return Training(job, model, opt, sched, Amp(t.amp, device), dataset), val_pairs


def _write_model(path: Path, cfg: RunConfig, training: Training, state: TrainState, group: distributed.Group,
                 code_version: str | None, run_info: dict | None) -> TrainResult:
    """Rank 0 writes the model file (weights, architecture, provenance, validation history); every
    rank returns once it exists."""
    if group.main:
        model = training.model.cpu()
        checkpoint.save(path, checkpoint.model_state(
            model, arch=training.task.arch, step=state.step, config=cfg.to_dict(),
            trajectory_hash=cfg.trajectory_hash(), num_parameters=sum(p.numel() for p in model.parameters()),
            val=state.val, val_history=state.val_history, code_version=code_version, **(run_info or {}),
        ))
    group.barrier()  # model.pt exists when any rank returns
    return TrainResult(path, state.step, state.losses, state.val)
