"""``invdn runs repair|register|relocate|uri`` and ``invdn compare``: the MLflow store's upkeep, the
Model Registry, and its runs side by side."""
from __future__ import annotations

from pathlib import Path

import click

from invdn.cli.common import CONTEXT, main, out_file, tracking_options


@main.group(context_settings=CONTEXT)
def runs() -> None:
    """Maintenance of the MLflow store."""


@runs.command("repair")
@tracking_options
@click.option("--dry-run", is_flag=True, help="Only report what would be marked.")
def runs_repair(tracking, dry_run) -> None:
    """Mark FAILED the runs left RUNNING by a process that is gone (kill -9, OOM, lost node)."""
    from invdn.tracking import repair_runs

    report = repair_runs(tracking.resolved_uri(), dry_run)
    for r in report:
        click.echo(f"{r['run_id']} {r['name']} (pid {r['pid']} on {r['host']}): {r['action']}")
    click.echo(f"{sum(r['action'].endswith('FAILED') for r in report)} of {len(report)} RUNNING run(s) "
               f"{'would be ' if dry_run else ''}marked FAILED")


@runs.command("register")
@tracking_options
@click.option("--metrics", "metrics", multiple=True, required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="`invdn evaluate` metrics file of a main seed (repeatable); the best mean PSNR is registered.")
@click.option("--name", "model_name", default="invdn", show_default=True, help="Registered model name.")
@click.option("--alias", required=True, help="Alias moved to the registered version (the preset: smoke, paper).")
@out_file("Record of what was registered (JSON).")
def runs_register(tracking, metrics, model_name, alias, out) -> None:
    """Register the best of the evaluated models in the MLflow Model Registry under an alias."""
    from invdn.tasks.registry import register_best

    r = register_best(list(metrics), model_name, alias, out, tracking)
    click.echo(f"{r['uri']} -> version {r['version']} ({r['source']}, PSNR {r['psnr']:.2f} dB of {r['metrics']})")


@runs.command("relocate")
@tracking_options
@click.option("--artifact-root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the experiments' artifact folders are now [default: mlartifacts beside the sqlite file].")
@click.option("--dry-run", is_flag=True, help="Only report what would be rewritten.")
def runs_relocate(tracking, artifact_root, dry_run) -> None:
    """After moving the results folder: point the store's artifact locations, and the job keys that
    let an unfinished job continue its run, at the new place."""
    from invdn.tracking.relocate import relocate

    report = relocate(tracking.resolved_uri(), artifact_root, dry_run)
    for r in report:
        click.echo(f"{r['experiment']}: {r['old']} -> {r['new']} ({r['rows']} location(s), "
                   f"{r['job_keys']} job key(s))")
    click.echo(f"{len(report)} experiment(s) {'would be ' if dry_run else ''}relocated")


@runs.command("uri")
@click.option("--config", "configs", multiple=True, type=click.Path(path_type=Path), metavar="FILE",
              help="Workflow config whose mlflow.tracking_uri names the store (repeatable; later files over "
                   "earlier ones, as snakemake --configfile).")
def runs_uri(configs) -> None:
    """Print the MLflow store that the workflow's commands write to: $MLFLOW_TRACKING_URI, else the
    last --config's mlflow.tracking_uri, else sqlite:///results/mlflow.db (`make ui` opens it)."""
    from invdn.config.run import load_yaml
    from invdn.tracking import tracking_uri

    configured = None
    for path in configs:
        section = load_yaml(path).get("mlflow") or {}
        if not isinstance(section, dict) or not isinstance(section.get("tracking_uri", ""), str):
            raise click.BadParameter(f"{path}: mlflow must be a mapping with a string tracking_uri, e.g. "
                                     "'mlflow: {tracking_uri: sqlite:///results/mlflow.db}'", param_hint="--config")
        configured = section.get("tracking_uri", configured)
    click.echo(tracking_uri(configured))


@main.command("compare")
@tracking_options
@click.option("--filter", "filter_string", default="", metavar="FILTER",
              help="MLflow search filter, passed through, e.g. \"tags.stage = 'evaluate'\".")
@click.option("--sort", default=None, metavar="METRIC", help="Sort by this metric (or column), descending; runs without it last.")
@click.option("--ascending", is_flag=True, help="Sort ascending.")
@click.option("--columns", default=None, metavar="A,B,...",
              help="Columns: metric, param or tag names (or metrics.X, params.X, tags.X, run_id, name, status, "
                   "start_time) [default: run, status, stage/variant/method/mode, psnr, ssim, every metric].")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show the first N runs (after sorting).")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), default=None, help="Also write the table as CSV.")
def compare_cmd(tracking, filter_string, sort, ascending, columns, limit, csv_path) -> None:
    """MLflow runs side by side: filter (--filter, --tag), sort, pick columns; print and write CSV."""
    from invdn.atomic import write_text_atomic
    from invdn.reporting.runs import compare_runs, format_table

    names = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    uri = tracking.resolved_uri()
    frame = compare_runs(uri, tracking.experiment, filter_string, tracking.tags, sort, ascending, names, limit)
    click.echo(format_table(frame) if len(frame) else f"no runs in experiment {tracking.experiment!r} of {uri} match")
    if csv_path is not None:
        write_text_atomic(csv_path, frame.to_csv(index=False))
        click.echo(f"{len(frame)} run(s) -> {csv_path}")
