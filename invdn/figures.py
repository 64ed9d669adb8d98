"""Figures people would rather look at than read: the MC curve and residual maps (paper Fig. 6).

Matplotlib with the Agg backend (no display needed); every figure is written as PNG and PDF.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from .atomic import write_atomic  # noqa: E402


def _save(fig, stem: Path) -> list[Path]:
    paths = []
    for suffix in (".png", ".pdf"):
        path = stem.with_suffix(suffix)
        write_atomic(path, lambda tmp, fmt=suffix[1:]: fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight"))
        paths.append(path)
    plt.close(fig)
    return paths


def mc_curve(record: dict, stem: str | Path) -> list[Path]:
    """PSNR (dB, 95% interval) and seconds per image against mc_samples, from an ``mc_sweep`` record."""
    curve = record["curve"]
    k = [c["mc_samples"] for c in curve]
    psnr = [c["psnr"] for c in curve]
    low = [c["psnr"] - c["psnr_ci"]["low"] for c in curve]
    high = [c["psnr_ci"]["high"] - c["psnr"] for c in curve]
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.errorbar(k, psnr, yerr=[low, high], marker="o", capsize=3, label="PSNR (95% bootstrap interval)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(k, [str(v) for v in k])
    ax.set_xlabel("mc_samples (z draws averaged)")
    ax.set_ylabel("PSNR (dB), canonical")
    twin = ax.twinx()
    twin.plot(k, [c["seconds_per_image"] for c in curve], color="gray", linestyle="--", marker="s",
              label="seconds per image")
    twin.set_ylabel(f"seconds per image ({record['device']})")
    ax.set_title(f"MC self-ensemble, {record['num_images']} images")
    lines = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + twin.get_legend_handles_labels()[1]
    ax.legend(lines, labels, loc="lower right", fontsize=8)
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
    return _save(fig, Path(stem))
