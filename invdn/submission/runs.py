"""Denoising the SIDD benchmark blocks and the DND crops for the online servers.

Formats are read and written by ``invdn.data.benchmarks.matfiles`` and ``invdn.submission.files``; this module runs the
model over them: every block or crop gets its own seeded z generator (named by its position), so a
rerun reproduces the submission, and the time of the denoising alone is measured for
``TimeMPSrgb`` (seconds per megapixel, the SIDD kit's 2**20 pixels).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from invdn.data import float_to_uint8, uint8_to_float, write_rgb
from invdn.data.io import chw_uint8_to_hwc
from invdn.data.benchmarks.dnd import DND_IMAGE_KEY, DND_N_IMAGES, dnd_crops, read_dnd_boxes, read_dnd_image
from invdn.data.benchmarks.sidd_blocks import SIDD_BENCHMARK_KEY, SIDD_GRID, read_sidd_blocks, sidd_block_name
from invdn.inference.config import InferenceConfig
from invdn.inference.modes import Mode, image_generator, run_mode
from invdn.models import InvDN
from invdn.analysis.cost import synchronize
from invdn.submission.files import (bundle_dnd, dnd_bundle_name, dnd_crop_name, seconds_per_megapixel, write_dnd_crop,
                     write_sidd_submission, zip_submission)


MC16 = InferenceConfig(Mode.MC, 16)  # the paper's MC self-ensemble (§4.5), what the servers are sent by default


@torch.no_grad()
def _denoise(model: InvDN, image: torch.Tensor, name: str, inference: InferenceConfig) -> torch.Tensor:
    """(3, H, W) float in [0, 1] on the model's device -> (3, H, W) float clamped to [0, 1]."""
    gen = [image_generator(inference.seed, name, image.device)]
    return run_mode(model, image[None], gen, inference.mode, inference.mc_samples)[0].clamp(0, 1)


def submit_sidd(model: InvDN, bench_mat: str | Path, out_dir: str | Path, inference: InferenceConfig = MC16,
                optional: dict | None = None, numeric_array: bool = False, progress: bool = True,
                expected_grid: tuple[int, int] | None = SIDD_GRID) -> dict:
    """Denoise ``BenchmarkNoisyBlocksSrgb`` (40 x 32 blocks of 256 x 256 x 3 uint8) and write
    ``out_dir/SubmitSrgb.mat`` and ``out_dir/submission.zip``; returns a summary. ``expected_grid``
    None accepts other grids (tests).

    Raises:
        MatFileError: unreadable benchmark file, wrong key, shape or dtype.
        SubmissionError: output that fails the writer's checks (nothing is written then).
    """
    out_dir = Path(out_dir)
    device = next(model.parameters()).device
    blocks = read_sidd_blocks(bench_mat, SIDD_BENCHMARK_KEY)
    denoised = np.empty_like(blocks)
    seconds = 0.0
    grid = [(i, j) for i in range(blocks.shape[0]) for j in range(blocks.shape[1])]
    for i, j in tqdm(grid, desc=f"SIDD benchmark ({inference.mode.value})", unit="block", disable=not progress):
        noisy = uint8_to_float(blocks[i, j]).to(device)
        synchronize(device)
        start = time.perf_counter()
        out = _denoise(model, noisy, f"sidd_bench_{sidd_block_name(i, j)}", inference)
        synchronize(device)
        seconds += time.perf_counter() - start
        denoised[i, j] = chw_uint8_to_hwc(float_to_uint8(out.cpu()))
    n_pixels = int(np.prod(blocks.shape[:-1]))
    time_mp = seconds_per_megapixel(seconds, n_pixels)
    mat = write_sidd_submission(out_dir / "SubmitSrgb.mat", denoised, time_mp, optional, numeric_array, expected_grid)
    zipped = zip_submission([mat], out_dir / "submission.zip")
    return {"blocks": len(grid), "seconds": seconds, "time_mp": time_mp, "mat": str(mat), "zip": str(zipped)}


def submit_dnd(model: InvDN, root: str | Path, out_dir: str | Path, inference: InferenceConfig = MC16,
               n_images: int = DND_N_IMAGES, progress: bool = True) -> dict:
    """Denoise the 20 boxes of each DND image (``root/info.mat``, ``root/images_srgb/%04d.mat``)
    and write per-crop files (``out_dir/crops``), PNG previews (``out_dir/previews``), the bundles
    the server takes (``out_dir/bundled``) and ``out_dir/submission.zip``; returns a summary.

    Raises:
        MatFileError: a missing or malformed ``info.mat`` or image file (named).
    """
    root, out_dir = Path(root), Path(out_dir)
    device = next(model.parameters()).device
    boxes = read_dnd_boxes(root / "info.mat")
    seconds, crops_done = 0.0, 0
    for i in tqdm(range(1, n_images + 1), desc=f"DND ({inference.mode.value})", unit="image", disable=not progress):
        image = read_dnd_image(root / "images_srgb" / dnd_bundle_name(i))
        for k, crop in enumerate(dnd_crops(image, boxes[i - 1]), start=1):
            noisy = torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1))).float().to(device)
            synchronize(device)
            start = time.perf_counter()
            out = _denoise(model, noisy, f"dnd_{dnd_crop_name(i, k)}", inference)
            synchronize(device)
            seconds += time.perf_counter() - start
            result = out.cpu().permute(1, 2, 0).numpy().astype(np.float32)
            write_dnd_crop(out_dir / "crops" / dnd_crop_name(i, k), result)
            write_rgb(out_dir / "previews" / dnd_crop_name(i, k).replace(".mat", ".png"),
                      chw_uint8_to_hwc(float_to_uint8(out.cpu())))
            crops_done += 1
    bundles = bundle_dnd(out_dir / "crops", out_dir / "bundled", n_images=n_images, n_crops=boxes.shape[1])
    zipped = zip_submission(bundles, out_dir / "submission.zip")
    return {"crops": crops_done, "seconds": seconds, "key": DND_IMAGE_KEY, "zip": str(zipped)}
