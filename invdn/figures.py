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
    return _save(fig, Path(stem))
