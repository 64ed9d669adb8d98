"""The training task: a run config (InvDN, or a learned baseline network) trained by the engine inside
one tracked MLflow run that holds the resolved config, the data (MLflow datasets whose digests are
the manifest hashes, ``invdn.tasks.datasets``), the losses, the validation history and the model (an
MLflow pyfunc model for InvDN, ``invdn.tasks.mlmodel``; the model file for a baseline network).

One run per training: the job is keyed by its checkpoint folder, so a training killed and started
again continues its own MLflow run, and starting a finished training again opens none."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

from invdn.atomic import write_text_atomic
from invdn.config import RunConfig, config_hash, run_config
from invdn.engine import checkpoint
from invdn.engine.checkpointing import checkpoint_dir
from invdn.engine.distributed import check_launch, is_main
from invdn.engine.trainer import TrainResult, Task, invdn_task, train as run_training
from invdn.models.registry import NETWORKS
from invdn.tasks.common import TrackingConfig


@dataclass(frozen=True)
class TrainOptions:
    """How this process trains, over the config's train section: threads (shared by torchrun's
    processes), device, AMP; resume from the config's own last checkpoint; the code version that
    keys the checkpoints (the workflow passes it); a progress bar."""

    threads: int | None = None
    device: str | None = None
    amp: str | None = None
    resume: bool = True
    code_version: str | None = None
    progress: bool = True


def build(raw: dict, source: str, options: TrainOptions) -> tuple[RunConfig, object]:
    """(run config with the options over its train section, the training task factory) of a raw
    config: InvDN's, or a learned baseline's (``model: {network: ...}``)."""
    network = (raw.get("model") or {}).get("network") if isinstance(raw.get("model"), dict) else None
    if network is not None:
        kind = NETWORKS.get(network)
        cfg, task = kind.run_config(raw, source), kind.task
    else:
        cfg, task = run_config(raw, source), invdn_task
    threads = options.threads
    if threads and os.environ.get("LOCAL_WORLD_SIZE"):  # torchrun: the job's threads shared by its processes
        threads = max(threads // int(os.environ["LOCAL_WORLD_SIZE"]), 1)
    overrides = {k: v for k, v in (("threads", threads), ("device", options.device), ("amp", options.amp))
                 if v is not None}
    return replace(cfg, train=replace(cfg.train, **overrides)), task


def data_tags(cfg: RunConfig) -> dict[str, str]:
    """Content hashes of the training and validation data for the run's tags. A prepared SIDD
    training set (``invdn prepare sidd-medium``) carries its own manifest hash; other folders are hashed."""
    from invdn.tasks.datasets import manifest

    return {"train_manifest_sha256": manifest(cfg.data.train).sha256,
            "val_manifest_sha256": manifest(cfg.data.val).sha256}


def finished(out_dir: Path, cfg: RunConfig, options: TrainOptions, tracking: TrackingConfig,
             key: str) -> TrainResult | None:
    """The result of this training when it already ended: ``model.pt`` of this config and code
    version at the last step, written by a FINISHED MLflow run of this job (``key``); else None."""
    from mlflow.tracking import MlflowClient

    path = out_dir / "model.pt"
    if not path.is_file():
        return None
    try:
        state = checkpoint.load(path, checkpoint.MODEL_FORMAT)
    except checkpoint.CheckpointError:
        return None
    if (state.get("step") != cfg.train.iterations or state.get("trajectory_hash") != cfg.trajectory_hash()
            or state.get("code_version") != options.code_version or not state.get("mlflow_run_id")):
        return None
    try:
        run = MlflowClient(tracking_uri=tracking.resolved_uri()).get_run(state["mlflow_run_id"])
    except Exception:  # not in this store (another store, deleted): train, recording a run here
        return None
    if run.info.status != "FINISHED" or run.data.tags.get("job.key") != key:
        return None
    return TrainResult(path, state["step"], {}, state.get("val") or {})


def train(raw: dict, source: str, out_dir: Path, options: TrainOptions, tracking: TrackingConfig) -> TrainResult | None:
    """Train the run config ``raw`` (read from ``source``) into ``out_dir`` (model.pt, checkpoints/,
    config.json). Under torchrun, process 0 records the run; the others train and return None.
    With ``options.resume``, a training whose model file is final and whose MLflow run FINISHED is
    not run again (its result is returned, no run is opened).

    Raises:
        ConfigError: the config does not match the schema (named keys).
        NonFiniteLossError: a NaN/Inf loss with no rollback left (the step and files named).
    """
    from invdn.tasks.datasets import log_datasets, manifest
    from invdn.tracking import MlflowLogger, tracked_run
    from invdn.tracking.jobs import job_key

    cfg, task = build(raw, source, options)
    check_launch(cfg.train.processes)  # a wrong torchrun launch fails before an MLflow run is opened
    name, scale = raw.get("name", "custom"), raw.get("scale", "custom")
    resolved = {"name": name, "scale": scale, **cfg.to_dict()}
    out_dir.mkdir(parents=True, exist_ok=True)
    run = dict(resume=options.resume, code_version=options.code_version, task=task)
    key = job_key(checkpoint_dir(out_dir, cfg, options.code_version))
    done = finished(out_dir, cfg, options, tracking, key) if options.resume else None  # every rank: all stop
    if not is_main():  # another process of a torchrun launch: rank 0 records the run and writes the files
        if done is None:
            run_training(cfg, out_dir, progress=False, **run)
        return None
    if done is not None:
        return done
    write_text_atomic(out_dir / "config.json", json.dumps(resolved, indent=1))
    data = manifest(cfg.data.train), manifest(cfg.data.val)
    tags = {"stage": "train", "config_hash": config_hash(resolved), "scale": scale, "variant": name,
            "train_manifest_sha256": data[0].sha256, "val_manifest_sha256": data[1].sha256,
            **({"code_version": options.code_version} if options.code_version else {})}
    with tracked_run(tracking.resolved_uri(), tracking.experiment, f"train/{name}/seed{cfg.train.seed}", resolved,
                     {**tags, **tracking.tags}, job_key=key, rerun_finished=True) as mlrun:
        # rerun_finished: Snakemake deletes the model.pt of a job it was killed in before recording it, so
        # the same finished training starts again; it resumes from its last checkpoint inside its own run
        logger = MlflowLogger()
        log_datasets(*data)
        result = run_training(cfg, out_dir, logger=logger, progress=options.progress,
                              run_info={"name": name, "scale": scale, "mlflow_run_id": mlrun.info.run_id}, **run)
        if task is invdn_task:
            from invdn.tasks.mlmodel import log_model

            log_model(result.model_path)
        else:  # a baseline network: its model file (the pyfunc wrapper denoises with InvDN only)
            logger.log_artifact(result.model_path, "model")
        logger.log_artifact(out_dir / "config.json")
    return result


__all__ = ["Task", "TrainOptions", "TrainResult", "build", "data_tags", "finished", "train"]
