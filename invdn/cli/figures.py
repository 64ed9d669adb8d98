"""``invdn figure ...``: figures (PNG or JPEG, and PDF) from trained models and MLflow: validation curves (paper
Fig. 5), the latent and generated noise (Fig. 7), a before/after gallery."""
from __future__ import annotations

from pathlib import Path

import click

from invdn.cli.common import (CONTEXT, checkpoint_option, data_option, inference_options, labelled, main, out_dir,
                              out_stem, threads_option, tracking_options, usage)


@main.group(context_settings=CONTEXT)
def figure() -> None:
    """Figures (PNG for plots, JPEG for photographs; each also as PDF) from trained models and MLflow:
    validation curves (paper Figure 5), the latent and generated noise (Figure 7), a before/after gallery."""


@figure.command("curves")
@click.option("--model", "models", multiple=True, required=True, metavar="LABEL=PATH",
              help="A variant's model.pt and its legend label (repeatable).")
@out_stem("Path without suffix: writes .png, .pdf and .csv (label, step, psnr).")
@click.option("--title", default="", help="Figure title [default: the paper figure].")
@tracking_options
def curves_cmd(models, out_stem, title, tracking) -> None:
    """Validation PSNR against iteration per variant (paper Figure 5), from each model's MLflow run.

    Each model file names its training run (mlflow_run_id); the run's val_psnr history must end at
    the model file's final validation PSNR, or the command fails naming both.
    """
    from invdn.tasks.figures import curves

    found = curves(labelled(models, "--model"), Path(out_stem), title, tracking)
    for label, points in found.items():
        click.echo(f"{label}: {len(points)} points, last {points[-1][1]:.2f} dB at step {points[-1][0]}")
    click.echo(f"-> {out_stem}.png, .pdf, .csv")


@figure.command("latent")
@checkpoint_option
@data_option
@click.option("--image", default="0", show_default=True, help="The image: its name (file stem) or index in sorted order.")
@inference_options(modes=False, precision=False, eps=True)
@click.option("--max-points", type=click.IntRange(min=10), default=3000, show_default=True,
              help="Locations drawn into the scatter per set (seeded subsample).")
@out_dir("Folder for the figures.")
@threads_option
def latent_cmd(checkpoint, data, image, inference, max_points, out_dir) -> None:
    """The latent and generated noise (paper Figure 7): PCA of a noisy image's latent z against
    z_hf ~ N(0, I) (latent_pca.png/pdf), and the image beside one InvDN generates from it, with
    their amplified residuals (generated_noise.jpg/pdf)."""
    from invdn.tasks.figures import latent

    try:
        s = latent(checkpoint, data, image, inference, max_points, Path(out_dir))
    except ValueError as e:
        raise usage(e, "--image") from None
    click.echo(f"{s['image']}: z {s['z_shape']}, std {s['z_std']:.3f}; PC1 {100 * s['pca'][0]:.1f}%, "
               f"PC2 {100 * s['pca'][1]:.1f}% of the pooled variance -> {', '.join(s['files'])}")


@figure.command("gallery")
@checkpoint_option
@data_option
@click.option("--images", "count", type=click.IntRange(min=1), default=3, show_default=True,
              help="Val images shown, spread evenly over the sorted set.")
@inference_options(modes=False, precision=False, eps=True)
@click.option("--mc-samples", type=click.IntRange(min=1), default=16, show_default=True,
              help="z draws averaged in the MC column (paper §4.5: 16).")
@out_dir("Folder for the figures and gallery/ panels.")
@threads_option
def gallery_cmd(checkpoint, data, count, inference, mc_samples, out_dir) -> None:
    """Before/after gallery: noisy | single draw | MC | clean, each with its canonical PSNR (dB)
    against clean (gallery.jpg/pdf); real vs InvDN-generated noise (noise_residuals.jpg/pdf); every
    panel also as an 8-bit PNG in OUT_DIR/gallery/ with index.json (labels, files, PSNR).

    The denoised images are those of `invdn evaluate --mode single|mc --seed S`, so their PSNRs
    equal that command's per-image values.
    """
    from dataclasses import replace

    from invdn.tasks.figures import gallery

    rows = gallery(checkpoint, data, count, replace(inference, mc_samples=mc_samples), Path(out_dir))
    for row in rows:
        click.echo(f"{row['name']}: " + ", ".join(f"{p['label']} {p['psnr']:.2f} dB" for p in row["panels"][:3]))
    click.echo(f"-> {out_dir}/gallery.jpg, noise_residuals.jpg; panels in {out_dir}/gallery")
