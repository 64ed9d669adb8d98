"""``invdn presets ...``: the workflow's presets, composed as Snakemake composes them, and their audit."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from invdn.cli.common import CONTEXT, main

root_option = click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
                           show_default=True, help="The repository (holds workflow/config and results/).")


@main.group(context_settings=CONTEXT)
def presets() -> None:
    """The workflow presets (workflow/config/presets/*.yaml over workflow/config/base.yaml)."""


@presets.command("list")
@root_option
def list_cmd(root) -> None:
    """Each preset, the recipe it follows and its training length."""
    from invdn.pipeline.presets import compose, preset_names

    for name in preset_names(root):
        cfg = compose(name, root=root)
        click.echo(f"{name:15s} follows {cfg.get('follows', 'none'):14s} {cfg['train']['iterations']:>7d} iterations, "
                   f"seeds {cfg['train'].get('seeds', [0])}")


@presets.command("show")
@click.argument("name")
@root_option
def show_cmd(name, root) -> None:
    """The composed config of preset NAME, as Snakemake plans it (YAML)."""
    import yaml

    from invdn.pipeline.presets import compose

    click.echo(yaml.safe_dump(compose(name, root=root), sort_keys=False))


@presets.command("audit")
@click.option("--preset", "names", multiple=True, help="Preset to audit (repeatable) [default: all].")
@root_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report here (docs/presets.md) instead of printing it.")
@click.option("--check", is_flag=True,
              help="Exit 1 when a preset that follows a published recipe has an undeclared deviation.")
def audit_cmd(names, root, out, check) -> None:
    """Every planned job's effective settings beside the source of each value (paper section,
    official file and line, Paddle config key); flags undeclared deviations from the recipe."""
    from invdn.atomic import write_text_atomic
    from invdn.pipeline.audit import audit_all, report

    audits = audit_all(root, list(names) or None)
    text = report(audits)
    if out:
        write_text_atomic(out, text)
        click.echo(f"wrote {out}")
    else:
        click.echo(text)
    bad = [(a.preset, job, s) for a in audits if a.follows != "none" for job, s in a.undeclared]
    for preset, job, s in bad:
        click.echo(f"{preset}: {job}: {s.name} = {s.value!r} differs from the recipe's {s.recipe!r} ({s.where}) "
                   f"and is not declared in deviations", err=True)
    if check and bad:
        sys.exit(1)
