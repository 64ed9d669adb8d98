"""Commands ``invdn figure curves|latent|gallery`` (paper Figs. 5 and 7, a before/after gallery) and
``invdn compare`` (MLflow runs side by side).

Registered on ``invdn.cli.main`` when ``invdn.cli`` is imported (its last line imports this module).
These commands load models, images and MLflow runs; the figures are drawn by ``invdn.figures`` and
the run table built by ``invdn.compare``. Heavy imports stay inside the commands so ``--help`` is fast.
"""
from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import click

from .atomic import write_text_atomic
from .cli import (_ANY_CHECKPOINT, _load_model, _tags, data_option, exp_option, main, tag_option, threads_option,
                  uri_option)

VAL_METRIC = "val_psnr"
"""The MLflow metric under which ``invdn.train`` logs the validation PSNR (dB) at each validation step."""
TOLERANCE = 1e-9  # MLflow stores metrics as float64: the model file's value and the run's must be equal


def _known_errors(command):
    """FigureError and CompareError print one line (no traceback) and exit 1, as ``cli._Errors`` does
    for the errors it knows."""
    @functools.wraps(command)
    def run(*args, **kwargs):
        from .compare import CompareError
        from .figures import FigureError

        try:
            return command(*args, **kwargs)
        except (FigureError, CompareError) as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(1)

    return run


def _labelled(items: tuple[str, ...], option: str) -> dict[str, Path]:
    """LABEL=PATH items -> {label: path}; BadParameter on a malformed item or a repeated label."""
    out: dict[str, Path] = {}
    for item in items:
        label, sep, path = item.partition("=")
        if not sep or not label or not path:
            raise click.BadParameter(f"expected LABEL=PATH, got {item!r}", param_hint=option)
        if label in out:
            raise click.BadParameter(f"label {label!r} given twice", param_hint=option)
        out[label] = Path(path)
    return out


@main.group()
def figure() -> None:
    """Figures (PNG and PDF) from trained models and MLflow: validation curves (paper Figure 5),
    the latent and generated noise (Figure 7), a before/after gallery."""


def validation_curve(model_file: Path, client, uri: str) -> list[tuple[int, float]]:
    """[(step, val_psnr dB), ...] of the training run that wrote ``model_file`` (its ``mlflow_run_id``),
    checked against the model file: the history must end at the file's step and final ``val`` PSNR,
    and equal the file's ``val_history`` point for point. The values are the training loop's
    validation (canonical protocol on the first ``train.val_images`` val pairs), not a full
    ``invdn evaluate``. A run resumed from a checkpoint is a new MLflow run; training logs the
    history carried in the checkpoint to it again, so it holds the whole curve.

    A step logged twice (a NaN rollback repeats steps) keeps its latest value.

    Raises:
        CheckpointError: the model file is unreadable.
        FigureError: no run id or final validation in the file, no such run or no history in the
            store, or the history's last point differs from the model file.
    """
    from mlflow.exceptions import MlflowException

    from .checkpoint import load
    from .figures import FigureError

    state = load(model_file)
    run_id = state.get("mlflow_run_id")
    if not run_id:
        raise FigureError(f"{model_file}: no mlflow_run_id (not written by a tracked `invdn train`); "
                          "its validation history is not in any MLflow store")
    final = (state.get("val") or {}).get(VAL_METRIC)
    if final is None:
        raise FigureError(f"{model_file}: no final validation PSNR ('val': {state.get('val')!r}) to check the "
                          f"MLflow history of run {run_id} against")
    try:
        client.get_run(run_id)  # the history of a run that does not exist is empty, not an error
        history = client.get_metric_history(run_id, VAL_METRIC)
    except MlflowException as e:
        raise FigureError(f"{model_file}: MLflow run {run_id} not found in {uri} ({e.message}); pass the store the "
                          "model was trained with as --tracking-uri") from None
    if not history:
        raise FigureError(f"{model_file}: MLflow run {run_id} in {uri} holds no {VAL_METRIC!r} history")
    latest: dict[int, tuple[int, float]] = {}
    for m in sorted(history, key=lambda m: (m.step, m.timestamp)):
        latest[m.step] = (m.timestamp, m.value)
    points = [(step, value) for step, (_, value) in sorted(latest.items())]
    last_step, last = points[-1]
    step = state.get("step")
    if abs(last - final) > TOLERANCE or (step is not None and last_step != step):
        raise FigureError(
            f"{model_file}: the model file's final validation PSNR is {final} dB at step {step}, but MLflow run "
            f"{run_id} in {uri} ends at {last} dB at step {last_step}: the model file and the run do not belong "
            "together (the model was retrained or copied, or this is another store); retrain with tracking or "
            "pass the right --tracking-uri")
    saved = [(h["step"], h[VAL_METRIC]) for h in state.get("val_history", [])]
    if saved and (len(saved) != len(points) or any(a[0] != b[0] or abs(a[1] - b[1]) > TOLERANCE
                                                    for a, b in zip(saved, points))):
        raise FigureError(f"{model_file}: its val_history ({len(saved)} points) differs from the {VAL_METRIC!r} "
                          f"history of MLflow run {run_id} in {uri} ({len(points)} points)")
    return points


@figure.command("curves")
@click.option("--model", "models", multiple=True, required=True, metavar="LABEL=PATH",
              help="A variant's model.pt and its legend label (repeatable).")
@click.option("--out", "out_stem", required=True, type=click.Path(path_type=Path),
              help="Path without suffix: writes .png, .pdf and .csv (label, step, psnr).")
@click.option("--title", default="", help="Figure title [default: the paper figure].")
@uri_option
@_known_errors
def curves_cmd(models, out_stem, title, tracking_uri) -> None:
    """Validation PSNR against iteration per variant (paper Figure 5), from each model's MLflow run.

    Each model file names its training run (mlflow_run_id); the run's val_psnr history must end at
    the model file's final validation PSNR, or the command fails naming both.
    """
    import csv
    import io

    from mlflow.tracking import MlflowClient

    from .compare import check_store
    from .figures import training_curves
    from .tracking import tracking_uri as resolve

    uri = resolve(tracking_uri)
    check_store(uri)
    client = MlflowClient(tracking_uri=uri)
    curves = {label: validation_curve(path, client, uri) for label, path in _labelled(models, "--model").items()}
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["label", "step", "psnr"])
    for label, points in curves.items():
        writer.writerows([label, step, repr(value)] for step, value in points)
    out_stem = Path(out_stem)
    paths = training_curves(curves, out_stem, title)
    write_text_atomic(out_stem.with_suffix(".csv"), buf.getvalue())
    for label, points in curves.items():
        click.echo(f"{label}: {len(points)} points, last {points[-1][1]:.2f} dB at step {points[-1][0]}")
    click.echo(f"-> {', '.join(map(str, paths))}, {out_stem.with_suffix('.csv')}")


def _pick(pairs: list, image: str):
    """The pair named ``image``, else the one at index ``image`` (sorted order)."""
    for pair in pairs:
        if pair.name == image:
            return pair
    try:
        return pairs[int(image)]
    except (ValueError, IndexError):
        names = ", ".join(p.name for p in pairs[:5]) + (", ..." if len(pairs) > 5 else "")
        raise click.BadParameter(f"no image named {image!r} and not an index in [0, {len(pairs) - 1}]; "
                                 f"images: {names}", param_hint="--image") from None


def _load_floats(pair):
    """(noisy, clean) of a pair as (3, H, W) float32 in [0, 1]."""
    from .data import load_pair, uint8_to_float

    noisy, clean, _ = load_pair(pair)
    return uint8_to_float(noisy), uint8_to_float(clean)


def latent_and_sample(model, noisy, generator):
    """(z, z_hf) for a (1, 3, H, W) noisy image: z the high-frequency part of its latent (forward
    pass, reflect-padded to 2**down_blocks), z_hf a draw of N(0, I) of the same shape from
    ``generator``: with ``image_generator(seed, name)`` the very z_hf that ``single`` denoising with
    that seed puts in its place (``ensembles.reverse_samples`` draws first from a fresh generator).
    Both (1, C*4**k - C, h, w) float on the CPU."""
    import torch

    from .ensembles import pad_to_multiple

    with torch.no_grad():
        x, _ = pad_to_multiple(noisy, model.scale)
        _, z = model.split_latent(model(x))
        z_hf = torch.randn(z.shape, generator=generator, device=z.device, dtype=z.dtype)
    return z.cpu(), z_hf.cpu()


seed_option = click.option("--seed", type=int, default=0, show_default=True,
                           help="Seed of the per-image z generators (as `invdn evaluate` / `generate-noise`).")
eps_option = click.option("--eps", type=click.FloatRange(min=0), default=2e-4, show_default=True,
                          help="Perturbation of z in noise generation (paper §4.6: 2e-4).")
out_dir_option = click.option("--out-dir", required=True, type=click.Path(path_type=Path), help="Folder for the figures.")
device_option = click.option("--device", default="cpu", show_default=True)


@figure.command("latent")
@click.option("--checkpoint", required=True, type=click.Path(path_type=Path), help=_ANY_CHECKPOINT)
@data_option
@click.option("--image", default="0", show_default=True, help="The image: its name (file stem) or index in sorted order.")
@seed_option
@eps_option
@click.option("--max-points", type=click.IntRange(min=10), default=3000, show_default=True,
              help="Locations drawn into the scatter per set (seeded subsample).")
@out_dir_option
@device_option
@threads_option
@_known_errors
def latent_cmd(checkpoint, data_dir, image, seed, eps, max_points, out_dir, device, threads) -> None:
    """The latent and generated noise (paper Figure 7): PCA of a noisy image's latent z against
    z_hf ~ N(0, I) (latent_pca.png/pdf), and the image beside one InvDN generates from it, with
    their amplified residuals (generated_noise.png/pdf)."""
    from .data import eval_pairs
    from .ensembles import image_generator
    from .figures import generated_noise, latent_pca, latent_pca_fit
    from .generate import generate_noisy

    model, dev, _ = _load_model(checkpoint, device, threads)
    pair = _pick(eval_pairs(data_dir), image)
    noisy, clean = _load_floats(pair)
    z, z_hf = latent_and_sample(model, noisy[None].to(dev), image_generator(seed, pair.name, dev))
    generated = generate_noisy(model, noisy[None].to(dev), [image_generator(seed, pair.name, dev)], 1, eps)[0, 0].cpu()
    out_dir = Path(out_dir)
    paths = latent_pca(z, z_hf, out_dir / "latent_pca", max_points, seed, title=f"{pair.name} (seed {seed})")
    paths += generated_noise(noisy, generated, clean, out_dir / "generated_noise", title=f"{pair.name}, eps {eps:g}")
    ratio = latent_pca_fit(z, z_hf).explained_variance_ratio
    click.echo(f"{pair.name}: z {tuple(z.shape[1:])}, std {float(z.std()):.3f}; PC1 {100 * ratio[0]:.1f}%, "
               f"PC2 {100 * ratio[1]:.1f}% of the pooled variance -> {', '.join(map(str, paths))}")


def _spread(count: int, total: int) -> list[int]:
    """``count`` indices spread evenly over [0, total): SIDD val blocks come 32 per scene, so the
    first few would all show one scene."""
    import numpy as np

    return sorted({int(i) for i in np.linspace(0, total - 1, min(count, total)).round()})


@figure.command("gallery")
@click.option("--checkpoint", required=True, type=click.Path(path_type=Path), help=_ANY_CHECKPOINT)
@data_option
@click.option("--images", "count", type=click.IntRange(min=1), default=3, show_default=True,
              help="Val images shown, spread evenly over the sorted set.")
@click.option("--mc-samples", type=click.IntRange(min=1), default=16, show_default=True,
              help="z draws averaged in the MC column (paper: 16).")
@seed_option
@eps_option
@out_dir_option
@device_option
@threads_option
@_known_errors
def gallery_cmd(checkpoint, data_dir, count, mc_samples, seed, eps, out_dir, device, threads) -> None:
    """Before/after gallery: noisy | single draw | MC | clean, each with its canonical PSNR (dB)
    against clean (gallery.png/pdf); real vs InvDN-generated noise (noise_residuals.png/pdf); every
    panel also as an 8-bit PNG in OUT_DIR/gallery/ with index.json (labels, files, PSNR).

    The denoised images are those of `invdn evaluate --mode single|mc --seed S`, so their PSNRs
    equal that command's per-image values.
    """
    from .data import eval_pairs
    from .ensembles import Mode, image_generator
    from .evaluate import invdn_denoiser
    from .figures import amplified_residual, display_gain, gallery, noise_residuals, write_panels
    from .generate import generate_noisy
    from .metrics import canonical_scores

    model, dev, _ = _load_model(checkpoint, device, threads)
    pairs = eval_pairs(data_dir)
    chosen = [pairs[i] for i in _spread(count, len(pairs))]
    single = invdn_denoiser(model, Mode.SINGLE, 1, seed)
    mc = invdn_denoiser(model, Mode.MC, mc_samples, seed)
    out_dir = Path(out_dir)
    rows, noise_rows, index, panels = [], [], [], {}
    for pair in chosen:
        noisy, clean = _load_floats(pair)
        x = noisy[None].to(dev)
        outputs = [("noisy", "noisy input", noisy), ("single", "single draw", single(x, pair.name)[0].cpu()),
                   (f"mc{mc_samples}", f"MC-{mc_samples}", mc(x, pair.name)[0].cpu())]
        row = [{"key": key, "label": label, "image": img.clamp(0, 1), "psnr": canonical_scores(img, clean)[0]}
               for key, label, img in outputs] + [{"key": "clean", "label": "clean", "image": clean, "psnr": None}]
        rows.append({"name": pair.name, "panels": row})
        generated = generate_noisy(model, x, [image_generator(seed, pair.name, dev)], 1, eps)[0, 0].cpu()
        gain = display_gain(noisy, clean)
        noise_rows.append({"name": pair.name, "noisy": noisy, "generated": generated, "clean": clean, "gain": gain})
        for p in row:
            panels[f"{pair.name}_{p['key']}"] = p["image"]
        panels[f"{pair.name}_generated"] = generated
        panels[f"{pair.name}_residual_real"] = amplified_residual(noisy, clean, gain)
        panels[f"{pair.name}_residual_generated"] = amplified_residual(generated, clean, gain)
        keys = [(p["key"], p["label"], p["psnr"]) for p in row] + [
            ("generated", f"InvDN-generated noisy (eps {eps:g})", None),
            ("residual_real", f"real noise: noisy - clean, x{gain:g}", None),
            ("residual_generated", f"generated noise: generated - clean, x{gain:g}", None)]
        index.append({"name": pair.name, "panels": [{"file": f"{pair.name}_{k}.png", "label": label, "psnr_db": psnr}
                                                     for k, label, psnr in keys]})
    paths = gallery(rows, out_dir / "gallery", title=f"seed {seed}; PSNR (dB, canonical) against clean")
    paths += noise_residuals(noise_rows, out_dir / "noise_residuals")
    files = write_panels(panels, out_dir / "gallery")
    write_text_atomic(out_dir / "gallery" / "index.json", json.dumps(
        {"checkpoint": str(checkpoint), "data": str(data_dir), "seed": seed, "mc_samples": mc_samples, "eps": eps,
         "protocol": "canonical", "images": index}, indent=1))
    for row in rows:
        click.echo(f"{row['name']}: " + ", ".join(f"{p['label']} {p['psnr']:.2f} dB" for p in row["panels"][:3]))
    click.echo(f"-> {', '.join(map(str, paths))}; {len(files)} panels in {out_dir / 'gallery'}")


@main.command("compare")
@uri_option
@exp_option
@click.option("--filter", "filter_string", default="", metavar="FILTER",
              help="MLflow search filter, passed through, e.g. \"tags.stage = 'evaluate'\".")
@tag_option
@click.option("--sort", default=None, metavar="METRIC", help="Sort by this metric (or column), descending; runs without it last.")
@click.option("--ascending", is_flag=True, help="Sort ascending.")
@click.option("--columns", default=None, metavar="A,B,...",
              help="Columns: metric, param or tag names (or metrics.X, params.X, tags.X, run_id, name, status, "
                   "start_time) [default: run, status, stage/variant/method/mode, psnr, ssim, every metric].")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show the first N runs (after sorting).")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), default=None, help="Also write the table as CSV.")
@_known_errors
def compare_cmd(tracking_uri, experiment, filter_string, tags, sort, ascending, columns, limit, csv_path) -> None:
    """MLflow runs side by side: filter (--filter, --tag), sort, pick columns; print and write CSV."""
    from .compare import compare_runs, format_table
    from .tracking import tracking_uri as resolve

    names = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    uri = resolve(tracking_uri)
    frame = compare_runs(uri, experiment, filter_string, _tags(tags), sort, ascending, names, limit)
    click.echo(format_table(frame) if len(frame) else f"no runs in experiment {experiment!r} of {uri} match")
    if csv_path is not None:
        write_text_atomic(csv_path, frame.to_csv(index=False))
        click.echo(f"{len(frame)} run(s) -> {csv_path}")
