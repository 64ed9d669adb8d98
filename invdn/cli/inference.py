"""``invdn denoise``, ``invdn generate-noise`` and ``invdn import-weights``: InvDN on image files."""
from __future__ import annotations

from pathlib import Path

import click

from invdn.cli.common import checkpoint_option, inference_options, main, out_dir, out_file, progress_option, threads_option


def _files(paths):
    from invdn.tasks.inference import image_files

    try:
        return image_files(list(paths))
    except FileNotFoundError as e:
        raise click.UsageError(str(e)) from None


@main.command("denoise")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@checkpoint_option
@out_dir("Folder for the denoised PNGs (same names).")
@inference_options(default_mode="mc")
@threads_option
@progress_option
def denoise_cmd(paths, checkpoint, out_dir, inference, progress) -> None:
    """Denoise image files or folders (RGB PNG/JPEG) and write PNGs of the same names to --out-dir.

    Sizes not divisible by 2**down_blocks are reflect-padded at the bottom/right and cropped back.
    """
    from invdn.tasks.inference import denoise

    written = denoise(_files(paths), checkpoint, out_dir, inference, progress)
    click.echo(f"denoised {len(written)} image(s) ({inference.mode.value}) -> {out_dir}")


@main.command("generate-noise")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@checkpoint_option
@out_dir("Folder for the generated noisy PNGs.")
@click.option("--samples", type=click.IntRange(min=1), default=1, show_default=True, help="Generated images per input.")
@inference_options(modes=False, precision=False, eps=True)
@threads_option
@progress_option
def generate_noise_cmd(paths, checkpoint, out_dir, samples, inference, progress) -> None:
    """New noisy images from real noisy ones (paper §4.6): z' = z + eps * v, then the reverse pass.

    Writes <name>.png (one sample) or <name>_<k>.png (k = 00, 01, ...). The generator is
    conditioned on the real noisy image, unlike clean-to-noisy generators (DANet, PNGAN): its
    AKLD is not like-for-like with theirs.
    """
    from invdn.tasks.inference import generate_noise

    files = _files(paths)
    generate_noise(files, checkpoint, out_dir, samples, inference, progress)
    click.echo(f"generated {samples} noisy image(s) for each of {len(files)} input(s) -> {out_dir}")


@main.command("import-weights")
@click.argument("src", type=click.Path(path_type=Path))
@out_file("Model file to write (what every --checkpoint reads).")
@click.option("--down-blocks", type=click.IntRange(min=1, max=3), default=None, help="Down-scale blocks [default: read off the file].")
@click.option("--inv-blocks", type=click.IntRange(min=1), multiple=True,
              help="Coupling blocks, per scale or once for all [default: read off the file].")
@click.option("--transform", type=click.Choice(["haar", "squeeze"]), default=None, help="[default: read off the file].")
@click.option("--subnet", type=click.Choice(["resnet", "densenet"]), default=None, help="[default: read off the file].")
def import_weights_cmd(src, out, down_blocks, inv_blocks, transform, subnet) -> None:
    """Import official (InvDN_ResUnit_x4.pth), Paddle (.pdparams) or invdn-repro weights into a model file.

    The architecture is read off the file (``invdn.models.infer.infer_architecture``); a flag only
    asserts it, and one the file contradicts is an error naming both values.
    """
    from invdn.tasks.inference import import_weights

    expect = {"down_blocks": down_blocks, "transform": transform, "subnet": subnet,
              "inv_blocks": (inv_blocks[0] if len(inv_blocks) == 1 else tuple(inv_blocks)) if inv_blocks else None}
    model, info = import_weights(src, out, expect)
    click.echo(f"{src} ({info['format']}): {model.num_parameters():,} parameters, architecture {model.arch.to_dict()} -> {out}")
