"""``invdn table ...``: the paper's tables from MLflow, each written as <--out-stem>.tex, .md and .csv.

Every command takes ``--out-stem STEM`` (a path without suffix) and prints the Markdown. The commands
of the previous release (``table2``, ``cost-table``, ``mc-table``, ``table5``, ``pgap-table``,
``ablation-table``, with ``--out``) remain as hidden aliases for one release.
"""
from __future__ import annotations

from pathlib import Path

import click

from invdn.cli.common import CONTEXT, PROTOCOLS, main, tracking_options
reference_option = click.option("--reference", required=True, type=click.Path(path_type=Path),
                                help="The papers' numbers: results/reference_numbers.yaml.")
out_option = click.option("--out-stem", "out_stem", required=True, type=click.Path(path_type=Path),
                          help="Path without suffix: writes .tex, .md and .csv.")
_old_out_option = click.option("--out", "out_stem", required=True, type=click.Path(path_type=Path),
                               help="Path without suffix (or a .tex file): writes .tex, .md and .csv.")
protocol_option = click.option("--protocol", type=click.Choice(PROTOCOLS), default="canonical", show_default=True,
                               help="Metrics protocol of the measured rows (every metrics file holds all of them).")


def _write(table, out_stem: Path) -> None:
    table.write(Path(str(out_stem).removesuffix(".tex")))
    click.echo(table.to_markdown())


@main.group(context_settings=CONTEXT)
def table() -> None:
    """The paper's tables (LaTeX, Markdown, CSV) from what MLflow holds."""


@table.command("table2")
@click.option("--metrics", "metrics_files", multiple=True, required=True, type=click.Path(path_type=Path),
              help="Metrics JSON of a measured run (repeatable; runs that differ in the training seed form one row).")
@reference_option
@click.option("--profile", "profile_files", multiple=True, type=click.Path(path_type=Path),
              help="`invdn profile` JSON of the reproduced model (fills the cost column).")
@protocol_option
@out_option
@tracking_options
def table2_cmd(metrics_files, reference, profile_files, protocol, out_stem, tracking) -> None:
    """Table 2: the paper's rows beside InvDN and the baselines measured here."""
    from invdn.reporting.tables import table2

    _write(table2(list(metrics_files), reference, tracking.resolved_uri(), list(profile_files), protocol), out_stem)


@table.command("cost")
@reference_option
@click.option("--size", type=int, default=256, show_default=True, help="Side of the square RGB image (paper: 256).")
@out_option
def cost_cmd(reference, size, out_stem) -> None:
    """Parameters and GMAC of the paper's model, its variants and the Table 3 grid, from the code."""
    from invdn.reporting.tables import cost_rows, cost_table

    _write(cost_table(cost_rows(reference, size)), out_stem)


@table.command("mc")
@click.option("--sweep", "sweep_files", multiple=True, required=True, type=click.Path(path_type=Path),
              help="`invdn mc-sweep` JSON (repeatable: one per training seed).")
@reference_option
@out_option
@tracking_options
def mc_cmd(sweep_files, reference, out_stem, tracking) -> None:
    """The MC self-ensemble table (paper §4.5): mc_samples vs PSNR/SSIM, gain and share improved."""
    from invdn.reporting.tables import mc_table

    _write(mc_table(list(sweep_files), reference, tracking.resolved_uri()), out_stem)


@table.command("table5")
@click.option("--akld", "akld_files", multiple=True, required=True, type=click.Path(path_type=Path),
              help="`invdn akld` JSON (repeatable: InvDN per training seed, noise models, ...).")
@reference_option
@out_option
@tracking_options
def table5_cmd(akld_files, reference, out_stem, tracking) -> None:
    """Table 5: AKLD of generated noise, the paper's rows beside those measured here."""
    from invdn.reporting.tables import table5

    _write(table5(list(akld_files), reference, tracking.resolved_uri()), out_stem)


@table.command("pgap")
@click.option("--pgap", "pgap_files", multiple=True, required=True, type=click.Path(path_type=Path),
              help="`invdn pgap` JSON (repeatable: one per generator and training seed).")
@out_option
@tracking_options
def pgap_cmd(pgap_files, out_stem, tracking) -> None:
    """The PGap table (one row per generator)."""
    from invdn.reporting.tables import pgap_table

    _write(pgap_table(list(pgap_files), tracking.resolved_uri()), out_stem)


@table.command("ablation")
@click.option("--study", required=True, type=click.Choice(["table3", "fig5a", "fig5b", "table4"]), help="The ablation study.")
@click.option("--metrics", "metrics_files", multiple=True, required=True, type=click.Path(path_type=Path),
              help="Single-draw metrics JSON of one variant and seed (repeatable).")
@reference_option
@click.option("--versus", default=None, help="Variant the differences are taken against [default: the first file's].")
@protocol_option
@out_option
@tracking_options
def ablation_cmd(study, metrics_files, reference, versus, protocol, out_stem, tracking) -> None:
    """An ablation study's table (Table 3, Fig. 5a, Fig. 5b, Table 4), the paper's values beside ours."""
    from invdn.reporting.tables import ablation_table

    _write(ablation_table(study, list(metrics_files), reference, tracking.resolved_uri(), versus, protocol), out_stem)


@table.command("ledger")
@click.option("--claims", required=True, type=click.Path(path_type=Path),
              help="The claims and their decision rules: results/claims.yaml.")
@reference_option
@click.option("--tables", "tables_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="The preset's tables folder (results/<preset>/tables): the CSVs the claims read.")
@out_option
@tracking_options
def ledger_cmd(claims, reference, tables_dir, out_stem, tracking) -> None:
    """The claims ledger: for every claim of the paper, the measured value and a verdict (reproduced,
    not reproduced, inconclusive) with its reason and the MLflow runs behind it."""
    from invdn.reporting.ledger import ledger

    _write(ledger(claims, reference, tables_dir, tracking.resolved_uri()), out_stem)


@table.command("ledger-compare")
@click.option("--ledger", "ledgers", multiple=True, required=True, metavar="PRESET=CSV",
              help="A preset's ledger CSV (repeatable), e.g. paper=results/paper/ledger.csv.")
@out_option
def ledger_compare_cmd(ledgers, out_stem) -> None:
    """The claims whose verdicts flip between presets (e.g. paper vs official-code)."""
    from invdn.reporting.ledger import compare

    pairs = dict(item.split("=", 1) for item in ledgers if "=" in item)
    if len(pairs) != len(ledgers):
        raise click.BadParameter("each --ledger is PRESET=CSV", param_hint="--ledger")
    _write(compare(pairs), out_stem)


@table.command("benchmarks")
@click.option("--benchmark", "benchmark_files", multiple=True, required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="A job's Snakemake benchmark TSV (repeatable).")
@click.option("--root", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="The benchmarks folder (results/<preset>/benchmarks): a job is named by its file's path below it.")
@out_option
def benchmarks_cmd(benchmark_files, root, out_stem) -> None:
    """Wall time, peak memory and CPU time of each training and evaluation job (Snakemake's `benchmark:` files)."""
    from invdn.reporting.benchmarks import benchmark_labels, benchmark_table

    _write(benchmark_table(benchmark_labels(list(benchmark_files), root)), out_stem)


# The previous release's names, for one release: same options, hidden from --help.
for _old, _new in (("table2", table2_cmd), ("cost-table", cost_cmd), ("mc-table", mc_cmd), ("table5", table5_cmd),
                   ("pgap-table", pgap_cmd), ("ablation-table", ablation_cmd)):
    _params = [p for p in _new.params if p.name != "out_stem"]
    main.add_command(click.Command(_old, params=_params + _old_out_option(lambda: None).__click_params__,
                                   callback=_new.callback, hidden=True,
                                   help=f"Alias of `invdn table {_new.name}` (deprecated; --out-stem there)."))
