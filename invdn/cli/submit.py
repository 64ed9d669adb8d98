"""``invdn submit sidd|dnd``: the files the SIDD and DND benchmark servers accept, denoised by a model."""
from __future__ import annotations

import platform
from pathlib import Path

import click

from invdn.cli.common import CONTEXT, checkpoint_option, inference_options, main, out_dir, progress_option, threads_option


@main.group(context_settings=CONTEXT)
def submit() -> None:
    """Files the SIDD and DND benchmark servers accept, denoised by a model (MC-16 by default)."""


def _grid(ctx, param, value: str) -> tuple[int, int]:
    try:
        grid = tuple(int(v) for v in value.split(","))
    except ValueError:
        grid = ()
    if len(grid) != 2 or min(grid) < 1:
        raise click.BadParameter(f"expected two positive integers A,B, got {value!r}")
    return grid


@submit.command("sidd")
@click.option("--bench", required=True, type=click.Path(path_type=Path), help="BenchmarkNoisyBlocksSrgb.mat")
@checkpoint_option
@out_dir("Folder for SubmitSrgb.mat and submission.zip.")
@click.option("--numeric-array", is_flag=True, help="Write DenoisedBlocksSrgb as one uint8 array (the official InvDN layout), not a cell.")
@click.option("--method-name", default="InvDN (invdn-repro)", show_default=True, help="OptionalData.MethodName")
@click.option("--grid", default="40,32", show_default=True, metavar="A,B", callback=_grid,
              help="Block grid the benchmark file must have (SIDD's 40 x 32; other values for subsets and fixtures).")
@inference_options(default_mode="mc", precision=False)
@threads_option
@progress_option
def submit_sidd_cmd(bench, checkpoint, out_dir, numeric_array, method_name, grid, inference, progress) -> None:
    """Denoise the 1280 SIDD benchmark blocks -> SubmitSrgb.mat (+ zip to upload)."""
    import torch

    from invdn.submission.runs import submit_sidd
    from invdn.tasks.inference import ready_model

    model, _ = ready_model(checkpoint, inference)
    threads = f"{torch.get_num_threads()} threads" if inference.device == "cpu" else "GPU"
    optional = {"MethodName": method_name, "PaperTitle": "Invertible Denoising Network: A Light Solution for Real "
                "Noise Removal", "Venue": "CVPR 2021",
                "MachineSpecs": f"{platform.processor() or platform.machine()}, {inference.device}, {threads}"}
    summary = submit_sidd(model, bench, out_dir, inference, optional, numeric_array, progress, grid)
    click.echo(f"{summary['blocks']} blocks denoised ({inference.mode.value}), {summary['time_mp']:.3f} s/MP -> "
               f"{summary['mat']}; upload {summary['zip']}")


@submit.command("dnd")
@click.option("--root", required=True, type=click.Path(path_type=Path), help="DND folder with info.mat and images_srgb/.")
@checkpoint_option
@out_dir("Folder for the crops, previews, bundled/*.mat and submission.zip.")
@click.option("--images", type=click.IntRange(min=1), default=50, show_default=True,
              help="DND images to denoise (the benchmark's 50; fewer for subsets and fixtures).")
@inference_options(default_mode="mc", precision=False)
@threads_option
@progress_option
def submit_dnd_cmd(root, checkpoint, out_dir, images, inference, progress) -> None:
    """Denoise the 50 x 20 DND crops -> per-crop .mat, PNG previews, bundled/*.mat (+ zip to upload)."""
    from invdn.submission.runs import submit_dnd
    from invdn.tasks.inference import ready_model

    model, _ = ready_model(checkpoint, inference)
    summary = submit_dnd(model, root, out_dir, inference, images, progress)
    click.echo(f"{summary['crops']} DND crops denoised ({inference.mode.value}) in {summary['seconds']:.1f} s; "
               f"upload {summary['zip']}")
