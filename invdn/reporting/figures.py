"""Figures people would rather look at than read: validation curves (paper Fig. 5), the MC curve
and residual maps (Fig. 6), the latent and generated noise (Fig. 7), and a before/after gallery.

Functions here take plain data (tensors, arrays, numbers) and write figures; ``invdn.cli.figures``
loads models and MLflow runs and calls them. Matplotlib with the Agg backend (no display needed);
every figure is written as a raster file and a PDF: plots (curves, scatters) as PNG with a 256-colour
palette, figures of photographs (noisy images, residuals) as JPEG (:data:`JPEG_QUALITY`, at about a
val block's own pixel size). As RGBA PNG at 150 dpi the photograph figures were 1.5-3.5 MB each and
made the HTML report 20 MB. The rasters are for looking at: every number is computed from the float
images, and the gallery's panels (:func:`write_panels`) stay lossless PNG, so they score as they show.
Images are (3, H, W) float RGB in [0, 1]; they are shown quantised to 8 bits as the canonical protocol
scores them.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from invdn.atomic import write_atomic  # noqa: E402
from invdn.data.io import chw_uint8_to_hwc, float_to_uint8, write_rgb  # noqa: E402

RESIDUAL_SPREAD = 3.0
"""Residuals (image - clean) are shown as 0.5 + gain x residual with the gain that maps +-3 standard
deviations of the real noise to the display range (:func:`display_gain`)."""


class FigureError(ValueError):
    """Inputs a figure cannot be made from; the message names the file or value and the fix."""


JPEG_QUALITY = 90
"""JPEG quality of photograph figures: keeps the grain of sRGB noise and the titles' text sharp
(4:2:0 chroma, Pillow's default) at about a tenth of the RGBA PNG's size."""

PHOTO_DPI = 100
"""Resolution of photograph figures: a gallery panel is about 230 pixels wide, near a 256x256 val
block's own size (150 dpi upsampled the noise 1.4x and doubled the file)."""

PLOT_DPI = 150
"""Resolution of plots and of every PDF."""

PLOT_COLOURS = 256
"""Palette size of plot PNGs: a plot has a few line colours and their antialiased edges, which 256
colours hold (median cut, no dithering); the file is about a third of the RGBA PNG."""


def _palette_png(fig, tmp: str) -> None:
    """``fig`` rendered at :data:`PLOT_DPI` and written to ``tmp`` as a palette PNG."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=PLOT_DPI, bbox_inches="tight")
    buffer.seek(0)
    with Image.open(buffer) as rgba:
        image = rgba.convert("RGB").quantize(PLOT_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    image.save(tmp, format="PNG", optimize=True)


def _save(fig, stem: Path, photo: bool = False) -> list[Path]:
    """Write ``fig`` as ``stem.jpg`` (``photo``: JPEG at :data:`PHOTO_DPI`) or ``stem.png`` (palette
    PNG), then ``stem.pdf``; close it and return the two paths."""
    if photo:
        raster = stem.with_suffix(".jpg")
        write_atomic(raster, lambda tmp: fig.savefig(tmp, format="jpg", dpi=PHOTO_DPI, bbox_inches="tight",
                                                     pil_kwargs={"quality": JPEG_QUALITY}))
    else:
        raster = stem.with_suffix(".png")
        write_atomic(raster, lambda tmp: _palette_png(fig, tmp))
    pdf = stem.with_suffix(".pdf")
    write_atomic(pdf, lambda tmp: fig.savefig(tmp, format="pdf", dpi=PLOT_DPI, bbox_inches="tight"))
    plt.close(fig)
    return [raster, pdf]


def mc_curve(record: dict, stem: str | Path) -> list[Path]:
    """Two panels from an ``mc_sweep`` record, against mc_samples: mean PSNR (dB) with its 95%
    interval over images, and the paired gain over a single draw (95% interval) with seconds per image.

    The paired gain is the informative one: the PSNR interval mostly shows how images differ.
    """
    curve = record["curve"]
    k = [c["mc_samples"] for c in curve]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    psnr = [c["psnr"] for c in curve]
    left.errorbar(k, psnr, yerr=[[c["psnr"] - c["psnr_ci"]["low"] for c in curve],
                                 [c["psnr_ci"]["high"] - c["psnr"] for c in curve]], marker="o", capsize=3)
    left.set_ylabel("PSNR (dB), canonical")
    left.set_title(f"mean over {record['num_images']} images (95% interval)", fontsize=9)
    gain = [c["gain_over_single"] for c in curve]
    right.errorbar(k, [g["mean"] for g in gain], yerr=[[g["mean"] - g["low"] for g in gain],
                                                       [g["high"] - g["mean"] for g in gain]],
                   marker="o", capsize=3, label="PSNR gain (paired 95% interval)")
    right.axhline(0, color="black", linewidth=0.5)
    right.set_ylabel(f"PSNR gain over MC-{record['baseline_count']} (dB)")
    right.set_title("gain on the same images, and cost", fontsize=9)
    twin = right.twinx()
    twin.plot(k, [c["seconds_per_image"] for c in curve], color="gray", linestyle="--", marker="s",
              label="seconds per image")
    twin.set_ylabel(f"seconds per image ({record['device']})")
    handles = right.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    labels = right.get_legend_handles_labels()[1] + twin.get_legend_handles_labels()[1]
    right.legend(handles, labels, loc="lower right", fontsize=8)
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xticks(k, [str(v) for v in k])
        ax.set_xlabel("mc_samples (z draws averaged)")
    fig.suptitle("Monte-Carlo self-ensemble (paper §4.5)", fontsize=10)
    fig.tight_layout()
    return _save(fig, Path(stem))


def residual_maps(images: dict[str, torch.Tensor], counts: list[int], stem: str | Path, title: str = "") -> list[Path]:
    """|image - clean| (mean over RGB) for the noisy input, a single draw and the largest MC ensemble.

    As paper Fig. 6, darker means a larger difference (colour scale shared, in 8-bit levels).
    ``images`` as returned by ``mc_sweep``: (3, H, W) float tensors "noisy", "clean", "mc<k>".
    """
    clean = images["clean"]
    panels = [("noisy input", images["noisy"]), (f"single draw (MC-{counts[0]})", images[f"mc{counts[0]}"]),
              (f"MC-{counts[-1]}", images[f"mc{counts[-1]}"])]
    maps = [((img.clamp(0, 1) - clean).abs().mean(0) * 255).numpy() for _, img in panels]
    vmax = max(float(m.max()) for m in maps[1:]) or 1.0
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
    for ax, (label, _), m in zip(axes, panels, maps):
        shown = ax.imshow(m, cmap="gray_r", vmin=0, vmax=vmax)
        ax.set_title(f"{label}\nmean |error| {m.mean():.2f} levels", fontsize=9)
        ax.axis("off")
    fig.colorbar(shown, ax=axes, fraction=0.02, label="|error| (8-bit levels, darker = larger)")
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, Path(stem), photo=True)


def training_curves(curves: Mapping[str, Sequence[tuple[int, float]]], stem: str | Path, title: str = "") -> list[Path]:
    """Validation PSNR (dB) against training iteration, one line per variant (paper Fig. 5).

    ``curves``: {label: [(step, psnr_db), ...]}, e.g. the ``val_psnr`` history of each training run
    (canonical protocol on the first ``train.val_images`` val pairs); points are sorted by step.

    Raises:
        FigureError: no curves, or a curve without points.
    """
    if not curves:
        raise FigureError("training_curves: no curves given")
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for label, points in curves.items():
        if not points:
            raise FigureError(f"training_curves: the curve {label!r} has no points")
        steps, psnr = zip(*sorted(points))
        ax.plot(steps, psnr, marker="o", markersize=3, label=f"{label} (last {psnr[-1]:.2f} dB at {steps[-1]})")
    ax.set_xlabel("iteration")
    ax.set_ylabel("validation PSNR (dB)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "Validation PSNR during training (paper Fig. 5)", fontsize=10)
    fig.tight_layout()
    return _save(fig, Path(stem))


@dataclass(frozen=True)
class PCA:
    """A principal component analysis: ``mean`` (D,), ``components`` (k, D) orthonormal rows (the
    largest loading of each positive, so the signs are reproducible), ``explained_variance_ratio``
    (k,) the share of the total variance along each component (sums to <= 1)."""

    mean: np.ndarray
    components: np.ndarray
    explained_variance_ratio: np.ndarray

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        """(M, D) vectors -> (M, k) coordinates along the components."""
        return (np.asarray(vectors, dtype=np.float64) - self.mean) @ self.components.T


def pca(vectors: np.ndarray, components: int = 2) -> PCA:
    """PCA of (M, D) vectors by the SVD of the centred data (float64).

    Raises:
        FigureError: not a 2-D array with at least 2 rows, or ``components`` not in [1, D].
    """
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise FigureError(f"pca: expected (M, D) vectors with M >= 2, got shape {x.shape}")
    if not 1 <= components <= x.shape[1]:
        raise FigureError(f"pca: components must be in [1, {x.shape[1]}], got {components}")
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    vt = vt[:components]
    signs = np.sign(vt[np.arange(components), np.abs(vt).argmax(axis=1)])
    variance = s**2
    total = variance.sum()
    ratio = variance[:components] / total if total > 0 else np.zeros(components)
    return PCA(mean, vt * signs[:, None], ratio)


def location_vectors(latent) -> np.ndarray:
    """A latent part (C, h, w) or (1, C, h, w) -> its h*w per-location channel vectors (h*w, C), float64."""
    x = latent.detach().cpu().double().numpy() if isinstance(latent, torch.Tensor) else np.asarray(latent, np.float64)
    if x.ndim == 4 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 3:
        raise FigureError(f"expected a latent of shape (C, h, w) or (1, C, h, w), got {x.shape}")
    return x.reshape(x.shape[0], -1).T


def latent_pca_fit(z, z_hf) -> PCA:
    """The 2-component PCA of paper Fig. 7a, fitted on the per-location channel vectors of ``z`` and
    ``z_hf`` pooled (both (C, h, w) or (1, C, h, w), same C), so both sets share the same axes.

    Raises:
        FigureError: shapes that are not latents, or different channel counts.
    """
    a, b = location_vectors(z), location_vectors(z_hf)
    if a.shape[1] != b.shape[1]:
        raise FigureError(f"z has {a.shape[1]} channels but z_hf has {b.shape[1]}")
    return pca(np.concatenate([a, b]), components=2)


def latent_pca(z, z_hf, stem: str | Path, max_points: int = 3000, seed: int = 0, title: str = "") -> list[Path]:
    """Scatter of the latent of a noisy image against samples from the prior (paper Fig. 7a).

    ``z``: the high-frequency part of a noisy image's latent, (C, h, w) or (1, C, h, w) (C = 45 for
    RGB and 2 down-scale blocks, h, w = H/4, W/4); ``z_hf``: a sample of N(0, I) of the same shape,
    what denoising puts in its place (paper §3.3). Each of the h*w locations gives one C-vector;
    the PCA is fitted on both sets pooled (:func:`latent_pca_fit`) and at most ``max_points`` of each
    set are drawn (a seeded subsample) into the scatter. Axis labels and the title give the share
    of the pooled variance along each component.
    """
    fit = latent_pca_fit(z, z_hf)
    rng = np.random.default_rng(seed)
    fig, ax = plt.subplots(figsize=(5.6, 4.8))
    for name, part, colour in (("z (noisy image)", z, "tab:red"), ("z_hf ~ N(0, I)", z_hf, "tab:blue")):
        vectors = location_vectors(part)
        shown = vectors[rng.choice(len(vectors), min(max_points, len(vectors)), replace=False)]
        xy = fit.transform(shown)
        ax.scatter(xy[:, 0], xy[:, 1], s=3, alpha=0.35, color=colour, linewidths=0,
                   label=f"{name}: {len(vectors)} locations, std {vectors.std():.3f}")
    r = fit.explained_variance_ratio
    ax.set_xlabel(f"PC1 ({100 * r[0]:.1f}% of variance)")
    ax.set_ylabel(f"PC2 ({100 * r[1]:.1f}% of variance)")
    legend = ax.legend(fontsize=8, markerscale=4, loc="best")
    for handle in legend.legend_handles:
        handle.set_alpha(1)
    channels = location_vectors(z).shape[1]
    ax.set_title((title + "\n" if title else "") + f"PCA of the {channels}-channel latent vectors (fitted on both "
                 f"sets pooled);\nPC1 + PC2 explain {100 * r.sum():.1f}% of the variance (paper Fig. 7a)", fontsize=9)
    fig.tight_layout()
    return _save(fig, Path(stem))


def _display(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) float in [0, 1] -> (H, W, 3) uint8, quantised as the canonical protocol scores it."""
    return chw_uint8_to_hwc(float_to_uint8(image.detach().cpu()))


def display_gain(noisy: torch.Tensor, clean: torch.Tensor, spread: float = RESIDUAL_SPREAD) -> float:
    """The gain that shows ``spread`` standard deviations of noisy - clean ((3, H, W) in [0, 1]) over
    the half display range: 0.5 / (spread x std), to 2 significant digits, at least 1. Real sRGB
    noise ranges from a few to about 20 8-bit levels, so no fixed gain suits every image; a figure
    uses the real noise's gain for the generated noise too, so the two stay comparable."""
    std = (noisy.clamp(0, 1) - clean.clamp(0, 1)).double().std().item()
    if not std > 0:
        return 1.0
    return max(1.0, float(f"{0.5 / (spread * std):.2g}"))


def amplified_residual(image: torch.Tensor, clean: torch.Tensor, gain: float) -> torch.Tensor:
    """0.5 + gain x (image - clean), clamped to [0, 1]: the noise of (3, H, W) ``image`` made visible
    (mid-grey is no noise); both clamped to [0, 1] first."""
    if image.shape != clean.shape:
        raise FigureError(f"image and clean shapes differ: {tuple(image.shape)} vs {tuple(clean.shape)}")
    return (0.5 + gain * (image.clamp(0, 1) - clean.clamp(0, 1))).clamp(0, 1)


def _levels_std(image: torch.Tensor, clean: torch.Tensor) -> float:
    """Standard deviation of image - clean in 8-bit levels."""
    return float((image.clamp(0, 1) - clean.clamp(0, 1)).double().std() * 255)


def generated_noise(noisy: torch.Tensor, generated: torch.Tensor, clean: torch.Tensor, stem: str | Path,
                    gain: float | None = None, title: str = "") -> list[Path]:
    """A real noisy image and one InvDN generated from it (paper Fig. 7b-c), with their residuals.

    Top: ``noisy`` and ``generated`` (z' = z + eps v, reverse pass; paper §4.6). Bottom: noisy - clean
    and generated - clean, amplified by ``gain`` (default: :func:`display_gain` of the real noise)
    and titled with their standard deviation in 8-bit levels; the title gives the RMS of
    generated - noisy. All (3, H, W) float in [0, 1].
    """
    gain = gain or display_gain(noisy, clean)
    fig, axes = plt.subplots(2, 2, figsize=(7.4, 7.6))
    change = float((generated.clamp(0, 1) - noisy.clamp(0, 1)).double().pow(2).mean().sqrt() * 255)
    panels = [("real noisy", noisy), ("InvDN-generated noisy", generated),
              (f"real noise: noisy - clean (x{gain:g})\nstd {_levels_std(noisy, clean):.2f} levels",
               amplified_residual(noisy, clean, gain)),
              (f"generated noise: generated - clean (x{gain:g})\nstd {_levels_std(generated, clean):.2f} levels",
               amplified_residual(generated, clean, gain))]
    for ax, (label, img) in zip(axes.flat, panels):
        ax.imshow(_display(img))
        ax.set_title(label, fontsize=9)
        ax.axis("off")
    fig.suptitle((title + "\n" if title else "") + f"noise generation (paper §4.6, Fig. 7b-c); "
                 f"RMS of generated - real noisy: {change:.2f} levels", fontsize=9)
    fig.tight_layout()
    return _save(fig, Path(stem), photo=True)


def gallery(rows: Sequence[Mapping], stem: str | Path, title: str = "") -> list[Path]:
    """Before/after gallery: one row per image, one column per panel.

    ``rows``: [{"name": str, "panels": [{"label": str, "image": (3, H, W) float in [0, 1],
    "psnr": dB against the clean image or None}, ...]}, ...], every row with the same panels (e.g.
    noisy | single draw | MC-16 | clean). A panel is titled with its label and PSNR.

    Raises:
        FigureError: no rows, or rows with different numbers of panels.
    """
    if not rows:
        raise FigureError("gallery: no rows given")
    cols = len(rows[0]["panels"])
    if cols == 0 or any(len(r["panels"]) != cols for r in rows):
        raise FigureError(f"gallery: every row needs the same number of panels, got {[len(r['panels']) for r in rows]}")
    fig, axes = plt.subplots(len(rows), cols, figsize=(2.6 * cols, 2.8 * len(rows)), squeeze=False)
    for ax_row, row in zip(axes, rows):
        for ax, panel in zip(ax_row, row["panels"]):
            ax.imshow(_display(panel["image"]))
            psnr = panel.get("psnr")
            ax.set_title(f"{panel['label']}\n" + (f"{psnr:.2f} dB" if psnr is not None else "reference"), fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        ax_row[0].set_ylabel(row["name"], fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, Path(stem), photo=True)


def noise_residuals(rows: Sequence[Mapping], stem: str | Path, title: str = "") -> list[Path]:
    """Real noise against InvDN-generated noise, one row per image: noisy - clean | generated - clean,
    amplified (:func:`amplified_residual`) and titled with their std in 8-bit levels.

    ``rows``: [{"name": str, "noisy", "generated", "clean": (3, H, W) float in [0, 1], optional
    "gain": the row's amplification (default :func:`display_gain` of its real noise)}, ...].

    Raises:
        FigureError: no rows.
    """
    if not rows:
        raise FigureError("noise_residuals: no rows given")
    fig, axes = plt.subplots(len(rows), 2, figsize=(5.4, 2.8 * len(rows)), squeeze=False)
    for (left, right), row in zip(axes, rows):
        gain = row.get("gain") or display_gain(row["noisy"], row["clean"])
        for ax, key, label in ((left, "noisy", "real"), (right, "generated", "InvDN-generated")):
            ax.imshow(_display(amplified_residual(row[key], row["clean"], gain)))
            ax.set_title(f"{label} noise (x{gain:g})\nstd {_levels_std(row[key], row['clean']):.2f} levels", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        left.set_ylabel(row["name"], fontsize=8)
    fig.suptitle(title or "real vs generated noise: image - clean (paper §4.6)", fontsize=9)
    fig.tight_layout()
    return _save(fig, Path(stem), photo=True)


def write_panels(images: Mapping[str, torch.Tensor], folder: str | Path) -> list[Path]:
    """Each (3, H, W) float image in [0, 1] as ``folder/<key>.png`` (8-bit RGB, canonical
    quantisation, written atomically; lossless, so a panel scores as the image it shows); returns the
    paths. The report shows these images in the gallery's JPEG figures, not one by one."""
    folder = Path(folder)
    paths = []
    for key, image in images.items():
        path = folder / f"{key}.png"
        write_rgb(path, _display(image))
        paths.append(path)
    return paths
