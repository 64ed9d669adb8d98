"""``invdn profile``, ``mc-sweep``, ``akld``, ``generate-pairs`` and ``pgap``: analyses, each a tracked record."""
from __future__ import annotations

from pathlib import Path

import click

from invdn.cli.common import (ANY_WEIGHTS, checkpoint_option, data_option, grouped, inference_options, main, out_dir,
                              out_file, progress_option, threads_option, tracking_options, usage)


@main.command("profile")
@click.option("--checkpoint", type=click.Path(path_type=Path), default=None,
              help="Weights to profile, " + ANY_WEIGHTS + " [default: the paper's architecture, untrained].")
@click.option("--size", type=click.IntRange(min=8), default=256, show_default=True,
              help="Side of the square RGB test image (paper: 256).")
@click.option("--device", default="cpu", show_default=True)
@click.option("--repeats", type=click.IntRange(min=1), default=3, show_default=True, help="Timed denoises (median reported).")
@threads_option
@out_file("Profile JSON to write (also recorded in MLflow) [default: print only].", required=False)
@tracking_options
def profile_cmd(checkpoint, size, device, repeats, out, tracking) -> None:
    """Parameters, GMAC/GFLOPs of one forward + reverse pass, and seconds per image / megapixel."""
    from invdn.tasks.analysis import profile

    try:
        r = profile(checkpoint, size, device, repeats, out, tracking)
    except ValueError as e:
        raise usage(e, "--device") from None
    click.echo(f"{r['variant']}: {r['parameters']:,} parameters; {r['gmac']:.2f} GMAC = {r['gflops']:.2f} GFLOPs "
               f"(forward + reverse, {size}x{size}; 1 MAC = 2 FLOPs); {r['seconds_per_image']:.3f} s/image, "
               f"{r['seconds_per_megapixel']:.3f} s/MP on {r['device']} ({r['threads']} threads)")


def _counts(ctx, param, value: str) -> list[int]:
    try:
        counts = sorted({int(v) for v in value.split(",")})
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from None
    if not counts or counts[0] < 1:
        raise click.BadParameter(f"counts must be integers >= 1, got {value!r}")
    return counts


@main.command("mc-sweep")
@checkpoint_option
@data_option
@click.option("--counts", default="1,2,4,8,16,32", show_default=True, callback=_counts,
              help="mc_samples values (comma-separated).")
@inference_options(modes=False, precision=False)
@threads_option
@out_file("Sweep JSON; the figures are written beside it.")
@tracking_options
@progress_option
def mc_sweep_cmd(checkpoint, data, counts, inference, out, tracking, progress) -> None:
    """MC self-ensemble analysis (paper §4.5): PSNR/SSIM and runtime against mc_samples, Fig. 6."""
    from invdn.tasks.analysis import mc_sweep

    record = mc_sweep(checkpoint, data, counts, inference, out, tracking, progress)
    for c in record["curve"]:
        click.echo(f"MC-{c['mc_samples']:<3d} PSNR {c['psnr']:.2f} dB [{c['psnr_ci']['low']:.2f}, {c['psnr_ci']['high']:.2f}]  "
                   f"gain {c['gain_over_single']['mean']:+.3f} dB, improved on {100 * c['fraction_improved']:.1f}% "
                   f"of images, {c['seconds_per_image']:.2f} s/image")


def _source(checkpoint: Path | None, noise_model: str | None) -> Path | str:
    if (checkpoint is None) == (noise_model is None):
        raise click.UsageError("give exactly one of --checkpoint (InvDN's generator) and --noise-model")
    return checkpoint if checkpoint is not None else noise_model


def _generator_source(checkpoint, noise_model, generated, generator_name):
    """(InvDN's weights | a noise model's name | a folder's name, the folder of pre-generated images or None)."""
    if generated is not None:
        if checkpoint is not None or noise_model is not None:
            raise click.UsageError("give exactly one of --checkpoint, --noise-model and --generated")
        return "source", (generator_name or generated.name, generated)
    return "source", (_source(checkpoint, noise_model), None)


@main.command("akld")
@grouped(_generator_source,
         click.option("--checkpoint", type=click.Path(path_type=Path), default=None,
                      help="Score InvDN's generator: " + ANY_WEIGHTS),
         click.option("--noise-model", default=None, help="Or a noise model fitted per image to the real residual: "
                      "awgn, heteroscedastic, multivariate_gaussian."),
         click.option("--generated", type=click.Path(file_okay=False, path_type=Path), default=None,
                      help="Or score pre-generated images: DIR/<name>_<k>.png (as `invdn generate-noise` writes)."),
         click.option("--generator", "generator_name", default=None,
                      help="Name recorded for --generated images [default: the folder]."))
@data_option
@click.option("--samples", type=click.IntRange(min=1), default=50, show_default=True, help="Generated images per pair (L; DANet: 50).")
@inference_options(modes=False, precision=False, eps=True)
@threads_option
@out_file("AKLD JSON to write.")
@tracking_options
@progress_option
def akld_cmd(source, data, samples, inference, out, tracking, progress) -> None:
    """AKLD of generated noise on real pairs (paper Table 5; DANet's metric): InvDN's generator
    (--checkpoint), a noise model (--noise-model) or a folder of pre-generated images (--generated)."""
    from invdn.tasks.analysis import akld

    try:
        r = akld(source[0], data, samples, inference, out, tracking, progress, source[1])
    except ValueError as e:
        raise usage(e, "--noise-model") from None
    click.echo(f"AKLD ({r['generator']}) {r['akld']:.4f} [{r['akld_ci']['low']:.4f}, {r['akld_ci']['high']:.4f}] "
               f"over {r['num_images']} images, L = {samples} -> {out}")


@main.command("generate-pairs")
@click.option("--checkpoint", type=click.Path(path_type=Path), default=None, help="InvDN's generator: " + ANY_WEIGHTS)
@click.option("--noise-model", default=None,
              help="Or a noise model fitted per training image: awgn, heteroscedastic, multivariate_gaussian.")
@click.option("--data", required=True, type=click.Path(path_type=Path), help="Real training pairs (Noisy/, GT/, LQ/).")
@out_dir("Folder for the generated pairs (manifest.json written last).")
@inference_options(modes=False, precision=False, eps=True)
@threads_option
@progress_option
def generate_pairs_cmd(checkpoint, noise_model, data, out_dir, inference, progress) -> None:
    """Training pairs with generated noise (for PGap): Noisy generated, GT and LQ copied."""
    from invdn.tasks.analysis import generate_pairs

    try:
        manifest = generate_pairs(_source(checkpoint, noise_model), data, out_dir, inference, progress)
    except ValueError as e:
        raise usage(e, "--noise-model") from None
    click.echo(f"{len(manifest['pairs'])} generated pairs -> {out_dir}")


@main.command("pgap")
@click.option("--real", required=True, type=click.Path(path_type=Path), help="Metrics JSON of the denoiser trained on real pairs.")
@click.option("--generated", required=True, type=click.Path(path_type=Path),
              help="Metrics JSON of the same denoiser trained on generated pairs.")
@click.option("--generator", default="invdn", show_default=True, help="Name of the noise generator.")
@out_file("PGap JSON to write.")
@tracking_options
def pgap_cmd(real, generated, generator, out, tracking) -> None:
    """PGap = PSNR(trained on real) - PSNR(trained on generated), paired over the same val images."""
    from invdn.tasks.analysis import pgap

    try:
        r = pgap(real, generated, generator, out, tracking)
    except ValueError as e:
        raise usage(e) from None
    click.echo(f"PGap ({generator}) {r['pgap']:.3f} dB [{r['pgap_ci']['low']:.3f}, {r['pgap_ci']['high']:.3f}]: real "
               f"{r['psnr_real']:.2f} dB, generated {r['psnr_generated']:.2f} dB -> {out}")
