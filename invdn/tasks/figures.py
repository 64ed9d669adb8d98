"""Figure tasks: the validation curves of trained variants (paper Fig. 5, from MLflow), the latent
and generated noise of one image (Fig. 7), and a before/after gallery with its panels."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import torch

from invdn.analysis.evaluate import invdn_denoiser
from invdn.atomic import write_text_atomic
from invdn.data import eval_pairs, load_pair, uint8_to_float
from invdn.inference.config import InferenceConfig
from invdn.inference.modes import Mode, image_generator, pad_to_multiple
from invdn.inference.noise import generate_noisy
from invdn.inference.runtime import resolve_device
from invdn.metrics import canonical_scores
from invdn.reporting.figures import (FigureError, amplified_residual, display_gain, gallery as draw_gallery,
                                     generated_noise, latent_pca, latent_pca_fit, noise_residuals, training_curves,
                                     write_panels)
from invdn.tasks.common import TrackingConfig
from invdn.tasks.inference import ready_model

VAL_METRIC = "val_psnr"
"""The MLflow metric under which ``invdn.engine.trainer`` logs the validation PSNR (dB) at each validation step."""
TOLERANCE = 1e-9  # MLflow stores metrics as float64: the model file's value and the run's must be equal


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

    from invdn.engine.checkpoint import load

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


def pick(pairs: list, image: str):
    """The pair named ``image``, else the one at index ``image`` (sorted order)."""
    for pair in pairs:
        if pair.name == image:
            return pair
    try:
        return pairs[int(image)]
    except (ValueError, IndexError):
        names = ", ".join(p.name for p in pairs[:5]) + (", ..." if len(pairs) > 5 else "")
        raise ValueError(f"no image named {image!r} and not an index in [0, {len(pairs) - 1}]; images: {names}") from None


def load_floats(pair):
    """(noisy, clean) of a pair as (3, H, W) float32 in [0, 1]."""
    noisy, clean, _ = load_pair(pair)
    return uint8_to_float(noisy), uint8_to_float(clean)


def latent_and_sample(model, noisy, generator):
    """(z, z_hf) for a (1, 3, H, W) noisy image: z the high-frequency part of its latent (forward
    pass, reflect-padded to 2**down_blocks), z_hf a draw of N(0, I) of the same shape from
    ``generator``: with ``image_generator(seed, name)`` the very z_hf that ``single`` denoising with
    that seed puts in its place (``ensembles.reverse_samples`` draws first from a fresh generator).
    Both (1, C*4**k - C, h, w) float on the CPU."""
    with torch.no_grad():
        x, _ = pad_to_multiple(noisy, model.scale)
        _, z = model.split_latent(model(x))
        z_hf = torch.randn(z.shape, generator=generator, device=z.device, dtype=z.dtype)
    return z.cpu(), z_hf.cpu()


def spread(count: int, total: int) -> list[int]:
    """``count`` indices spread evenly over [0, total): SIDD val blocks come 32 per scene, so the
    first few would all show one scene."""
    import numpy as np

    return sorted({int(i) for i in np.linspace(0, total - 1, min(count, total)).round()})




def curves(models: dict[str, Path], out_stem: Path, title: str, tracking: TrackingConfig) -> dict[str, list]:
    """Validation PSNR against iteration per labelled model (paper Fig. 5): .png, .pdf and .csv (label,
    step, psnr) at ``out_stem``; each model's curve is its training run's history, checked against
    the model file (:func:`validation_curve`)."""
    from mlflow.tracking import MlflowClient

    from invdn.reporting.runs import check_store

    uri = tracking.resolved_uri()
    check_store(uri)
    client = MlflowClient(tracking_uri=uri)
    found = {label: validation_curve(path, client, uri) for label, path in models.items()}
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["label", "step", "psnr"])
    for label, points in found.items():
        writer.writerows([label, step, repr(value)] for step, value in points)
    training_curves(found, out_stem, title)
    write_text_atomic(out_stem.with_suffix(".csv"), buf.getvalue())
    return found


def latent(weights: Path, data: Path, image: str, inference: InferenceConfig, max_points: int,
           out_dir: Path) -> dict:
    """The latent and generated noise (paper Fig. 7): PCA of a noisy image's latent z against
    z_hf ~ N(0, I) (latent_pca.png/pdf), and the image beside one InvDN generates from it, with their
    amplified residuals (generated_noise.jpg/pdf). Returns a summary (image, z shape and std, PCA)."""
    model, _ = ready_model(weights, inference)
    dev = resolve_device(inference.device)
    pair = pick(eval_pairs(data), image)
    noisy, clean = load_floats(pair)
    z, z_hf = latent_and_sample(model, noisy[None].to(dev), image_generator(inference.seed, pair.name, dev))
    generated = generate_noisy(model, noisy[None].to(dev), [image_generator(inference.seed, pair.name, dev)], 1,
                               inference.eps)[0, 0].cpu()
    paths = latent_pca(z, z_hf, out_dir / "latent_pca", max_points, inference.seed,
                       title=f"{pair.name} (seed {inference.seed})")
    paths += generated_noise(noisy, generated, clean, out_dir / "generated_noise",
                             title=f"{pair.name}, eps {inference.eps:g}")
    ratio = latent_pca_fit(z, z_hf).explained_variance_ratio
    return {"image": pair.name, "z_shape": tuple(z.shape[1:]), "z_std": float(z.std()), "pca": list(ratio[:2]),
            "files": [str(p) for p in paths]}


def _gallery_row(model, pair, single, mc, inference: InferenceConfig, dev):
    """One image's panels (noisy, single, MC, clean with their PSNRs), its noise panels and its index entry."""
    noisy, clean = load_floats(pair)
    x = noisy[None].to(dev)
    k = inference.mc_samples
    outputs = [("noisy", "noisy input", noisy), ("single", "single draw", single(x, pair.name)[0].cpu()),
               (f"mc{k}", f"MC-{k}", mc(x, pair.name)[0].cpu())]
    row = [{"key": key, "label": label, "image": img.clamp(0, 1), "psnr": canonical_scores(img, clean)[0]}
           for key, label, img in outputs] + [{"key": "clean", "label": "clean", "image": clean, "psnr": None}]
    generated = generate_noisy(model, x, [image_generator(inference.seed, pair.name, dev)], 1, inference.eps)[0, 0].cpu()
    gain = display_gain(noisy, clean)
    panels = {f"{pair.name}_{p['key']}": p["image"] for p in row}
    panels.update({f"{pair.name}_generated": generated,
                   f"{pair.name}_residual_real": amplified_residual(noisy, clean, gain),
                   f"{pair.name}_residual_generated": amplified_residual(generated, clean, gain)})
    keys = [(p["key"], p["label"], p["psnr"]) for p in row] + [
        ("generated", f"InvDN-generated noisy (eps {inference.eps:g})", None),
        ("residual_real", f"real noise: noisy - clean, x{gain:g}", None),
        ("residual_generated", f"generated noise: generated - clean, x{gain:g}", None)]
    index = {"name": pair.name, "panels": [{"file": f"{pair.name}_{key}.png", "label": label, "psnr_db": psnr}
                                           for key, label, psnr in keys]}
    noise = {"name": pair.name, "noisy": noisy, "generated": generated, "clean": clean, "gain": gain}
    return {"name": pair.name, "panels": row}, noise, panels, index


def gallery(weights: Path, data: Path, count: int, inference: InferenceConfig, out_dir: Path) -> list[dict]:
    """Before/after gallery: noisy | single draw | MC-``mc_samples`` | clean with canonical PSNRs (dB)
    against clean (gallery.jpg/pdf), real vs InvDN-generated noise (noise_residuals.jpg/pdf), and every
    panel as an 8-bit PNG in out_dir/gallery/ with index.json. The denoised images are those of
    ``invdn evaluate`` in the same modes and seed. Returns the rows (name, panels with PSNR)."""
    model, _ = ready_model(weights, inference)
    dev = resolve_device(inference.device)
    pairs = eval_pairs(data)
    single = invdn_denoiser(model, InferenceConfig(Mode.SINGLE, 1, inference.seed))
    mc = invdn_denoiser(model, InferenceConfig(Mode.MC, inference.mc_samples, inference.seed))
    rows, noise_rows, panels, index = [], [], {}, []
    for pair in [pairs[i] for i in spread(count, len(pairs))]:
        row, noise, image_panels, entry = _gallery_row(model, pair, single, mc, inference, dev)
        rows.append(row)
        noise_rows.append(noise)
        panels.update(image_panels)
        index.append(entry)
    draw_gallery(rows, out_dir / "gallery", title=f"seed {inference.seed}; PSNR (dB, canonical) against clean")
    noise_residuals(noise_rows, out_dir / "noise_residuals")
    write_panels(panels, out_dir / "gallery")
    write_text_atomic(out_dir / "gallery" / "index.json", json.dumps(
        {"checkpoint": str(weights), "data": str(data), "seed": inference.seed, "mc_samples": inference.mc_samples,
         "eps": inference.eps, "protocol": "canonical", "images": index}, indent=1))
    return rows
