"""``invdn validate-data``, ``invdn mlflow-init`` and ``invdn prepare ...``: data checks and the official downloads."""
from __future__ import annotations

from pathlib import Path

import click

from invdn.cli.common import main, out_dir, out_file, progress_option, tracking_options


@main.command("validate-data")
@click.option("--data", required=True, type=click.Path(path_type=Path), help="Folder with Noisy/ and GT/ (and LQ/).")
@click.option("--lq-scale", type=click.IntRange(min=1), default=None,
              help="Also require LQ/ images this many times smaller than GT/.")
@out_file("Manifest JSON to write.")
def validate_data_cmd(data: Path, lq_scale: int | None, out: Path) -> None:
    """Read every pair, check sizes, and write a manifest with the sha256 of each file."""
    from invdn.tasks.data import validate_data

    manifest = validate_data(data, lq_scale, out)
    click.echo(f"{data}: {manifest['num_pairs']} pairs OK -> {out}")


@main.command("mlflow-init")
@tracking_options
@click.option("--also", "experiments", multiple=True, help="Another experiment to create (repeatable).")
@out_file("Marker file to write when done.", required=False)
def mlflow_init_cmd(tracking, experiments: tuple[str, ...], out: Path | None) -> None:
    """Create the MLflow store and experiments (run once, before parallel jobs)."""
    from invdn.tasks.data import init_tracking

    record = init_tracking(tracking, [tracking.experiment, *experiments], out)
    click.echo(f"MLflow store {record['tracking_uri']}: experiments {record['experiments']}")


@main.group(context_settings={"help_option_names": ["-h", "--help"]})
def prepare() -> None:
    """Prepare the official SIDD downloads into Noisy/ GT/ (LQ/) folders."""


@prepare.command("extract")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@out_dir("Folder to extract into.")
def prepare_extract(archive, out_dir) -> None:
    """Unpack a download (.zip or .tar*) after checking that no member escapes --out-dir (absolute
    paths, '..', links refuse the whole archive)."""
    from invdn.data.archive import extract_archive

    files = extract_archive(archive, out_dir)
    click.echo(f"{len(files)} files from {archive} -> {out_dir}")


@prepare.command("sidd-medium")
@click.option("--root", required=True, type=click.Path(path_type=Path), help="SIDD_Medium_Srgb/Data (one folder per scene instance).")
@out_dir("Folder for Noisy/, GT/, LQ/ patches.")
@click.option("--patch", type=click.IntRange(min=16), default=512, show_default=True, help="Patch side (LQ: patch / 4).")
@click.option("--per-image", type=click.IntRange(min=1), default=100, show_default=True, help="Random crops per image (official: 100).")
@click.option("--stride", type=click.IntRange(min=1), default=None, help="Grid crops with this stride instead of random ones.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the random crops.")
@click.option("--workers", type=click.IntRange(min=1), default=None, envvar="INVDN_THREADS", show_envvar=True,
              help="Processes [default: all cores].")
@progress_option
def prepare_sidd_medium_cmd(root, out_dir, patch, per_image, stride, seed, workers, progress) -> None:
    """SIDD Medium sRGB (320 pairs) -> patches with MATLAB-bicubic LQ, a manifest with sha256; resumable."""
    from invdn.data.benchmarks.sidd import prepare_sidd_medium

    r = prepare_sidd_medium(root, out_dir, patch, per_image, seed, stride, workers, progress)
    click.echo(f"{r.n_patches} patches from {r.n_images} images ({r.n_written} written, {r.n_skipped} verified "
               f"and kept) -> {r.out}; manifest sha256 {r.manifest_sha256}")


@prepare.command("sidd-val")
@click.option("--noisy", required=True, type=click.Path(path_type=Path), help="ValidationNoisyBlocksSrgb.mat")
@click.option("--gt", required=True, type=click.Path(path_type=Path), help="ValidationGtBlocksSrgb.mat")
@out_dir("Folder for Noisy/ and GT/ PNG pairs.")
def prepare_sidd_val_cmd(noisy, gt, out_dir) -> None:
    """SIDD validation blocks (.mat, 40 x 32 x 256 x 256 x 3 uint8) -> 1280 PNG pairs ii_jj.PNG."""
    from invdn.tasks.data import prepare_sidd_val

    count = prepare_sidd_val(noisy, gt, out_dir)
    click.echo(f"{count} SIDD validation pairs -> {out_dir}")
