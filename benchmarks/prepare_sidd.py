"""Speed of SIDD-Medium patch preparation (read, crop, LQ resize, PNG write, hash) on synthetic data.

Builds a SIDD_Medium_Srgb/Data-layout folder in a temporary directory: ``--pairs`` noisy/clean
pairs of ``--height`` x ``--width`` 8-bit RGB (default 4 pairs of 3000x4000, the short x long side
of a SIDD-Medium image rounded down), spread over pairs / 2 instance folders. Content: smooth
colour gradients plus sinusoidal texture (clean) and Gaussian noise of sigma 8 (noisy), so the
PNGs compress roughly like real photographs rather than like white noise. Then runs
``prepare_sidd_medium`` once (patch 512, ``--per-image`` 20, ``--workers`` 2) and prints patches
per second end to end (process start, header reads, decoding the sources, cropping, ``make_lq``,
three PNG encodes, sha256, atomic writes), the same for a verify-only rerun, and the median time
of ``make_lq`` on one 512x512 patch (``--lq-repeats`` calls after a warm-up). Figures only.

Usage: ``python benchmarks/prepare_sidd.py [--pairs 4] [--height 3000] [--width 4000]
[--per-image 20] [--workers 2] [--lq-repeats 20]``
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from invdn.data.resize import make_lq
from invdn.data.benchmarks.sidd import prepare_sidd_medium


def synthetic_pair(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(clean, noisy), each (height, width, 3) uint8."""
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    channels = []
    for _ in range(3):
        a, b, f, g = rng.uniform(0.2, 1.0, 4)
        channels.append(60 + 120 * (a * x + b * y) / 2 + 25 * np.sin(40 * f * x + 30 * g * y) * np.cos(55 * g * y))
    clean = np.clip(np.stack(channels, axis=-1), 0, 255)
    noisy = clean + rng.normal(0, 8, clean.shape).astype(np.float32)
    return clean.round().astype(np.uint8), np.clip(noisy, 0, 255).round().astype(np.uint8)


def build_medium(root: Path, pairs: int, height: int, width: int) -> None:
    rng = np.random.default_rng(0)
    for i in range(pairs):
        scene = f"{i // 2 + 1:04d}"
        folder = root / f"{scene}_001_S6_00100_00060_3200_L"
        folder.mkdir(parents=True, exist_ok=True)
        index = "010" if i % 2 == 0 else "011"
        clean, noisy = synthetic_pair(rng, height, width)
        Image.fromarray(clean).save(folder / f"{scene}_GT_SRGB_{index}.PNG")
        Image.fromarray(noisy).save(folder / f"{scene}_NOISY_SRGB_{index}.PNG")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--height", type=int, default=3000)
    ap.add_argument("--width", type=int, default=4000)
    ap.add_argument("--patch", type=int, default=512)
    ap.add_argument("--per-image", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--lq-repeats", type=int, default=20)
    a = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root, out = Path(tmp) / "SIDD_Medium_Srgb" / "Data", Path(tmp) / "out"
        start = time.perf_counter()
        build_medium(root, a.pairs, a.height, a.width)
        build_s = time.perf_counter() - start
        source_mb = sum(p.stat().st_size for p in root.rglob("*.PNG")) / 1e6

        start = time.perf_counter()
        result = prepare_sidd_medium(root, out, patch=a.patch, per_image=a.per_image, workers=a.workers,
                                     progress=False)
        prepare_s = time.perf_counter() - start
        start = time.perf_counter()
        prepare_sidd_medium(root, out, patch=a.patch, per_image=a.per_image, workers=a.workers, progress=False)
        verify_s = time.perf_counter() - start
        out_mb = sum(p.stat().st_size for p in out.rglob("*.PNG")) / 1e6

    clean = synthetic_pair(np.random.default_rng(1), a.patch, a.patch)[0]
    make_lq(clean)
    times = []
    for _ in range(a.lq_repeats):
        start = time.perf_counter()
        make_lq(clean)
        times.append(time.perf_counter() - start)

    print(f"source: {a.pairs} pairs of {a.height}x{a.width} RGB, {source_mb:.0f} MB of PNG (built in {build_s:.1f} s)")
    print(f"prepare: {result.n_patches} patches of {a.patch}x{a.patch} (+ {a.patch // 4}x{a.patch // 4} LQ), "
          f"workers={a.workers}, {out_mb:.0f} MB written")
    print(f"prepare_wall_s: {prepare_s:.2f}")
    print(f"prepare_patches_per_s: {result.n_patches / prepare_s:.2f}")
    print(f"verify_rerun_patches_per_s: {result.n_patches / verify_s:.2f}")
    print(f"make_lq_{a.patch}_median_ms: {1000 * statistics.median(times):.2f}")


if __name__ == "__main__":
    main()
