"""``invdn train``: a run config trained by the engine, recorded in MLflow."""
from __future__ import annotations

import json
from pathlib import Path

import click

from invdn.cli.common import grouped, main, out_dir, progress_option, tracking_options


def _raw_config(config: Path | None, config_json: str | None) -> tuple[dict, str]:
    from invdn.config import ConfigError, load_yaml

    if (config is None) == (config_json is None):
        raise click.UsageError("give exactly one of --config FILE or --config-json JSON")
    if config is not None:
        return load_yaml(config), str(config)
    try:
        return json.loads(config_json), "--config-json"
    except json.JSONDecodeError as e:
        raise ConfigError(f"--config-json: not valid JSON ({e})") from None


def _train_options(resume, threads, device, amp, code_version, progress):
    from invdn.tasks.train import TrainOptions

    return "options", TrainOptions(threads, device, amp, resume, code_version, progress)


@main.command()
@click.option("--config", type=click.Path(path_type=Path), default=None, help="YAML with data, model and train sections.")
@click.option("--config-json", default=None, help="The same sections as JSON (what the workflow passes).")
@out_dir("Run folder (model.pt, config.json, checkpoints/).")
@grouped(_train_options,
         click.option("--resume/--no-resume", default=True, show_default=True,
                      help="Continue from this config's last checkpoint."),
         click.option("--threads", type=click.IntRange(min=1), default=None, envvar="INVDN_THREADS", show_envvar=True,
                      help="CPU threads, shared by torchrun's processes (over train.threads)."),
         click.option("--device", default=None, help="torch device, e.g. cpu, cuda, cuda:1 (over train.device)."),
         click.option("--amp", type=click.Choice(["off", "fp16", "bf16"]), default=None,
                      help="Mixed precision: bf16 (CUDA or AVX512-BF16/AMX CPUs) or fp16 (CUDA) (over train.amp)."),
         click.option("--code-version", default=None,
                      help="Hash of the training code (the workflow passes it): checkpoints of another code version "
                           "are not resumed; also the MLflow tag code_version."),
         progress_option)
@tracking_options
def train(config, config_json, out_dir, options, tracking) -> None:
    """Train InvDN (or a learned baseline: model: {network: dncnn, ...}); every run is recorded in
    MLflow (params, losses, validation, model file)."""
    from invdn.tasks.train import train as run

    raw, source = _raw_config(config, config_json)
    result = run(raw, source, out_dir, options, tracking)
    if result is not None:
        click.echo(f"trained {result.step} steps -> {result.model_path} (val {result.val})")
