"""Inference tasks on image files: denoise them, generate new noisy versions (paper §4.6), or turn
released weights into a model file of ours."""
from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from invdn.data import float_to_uint8, read_rgb, uint8_to_float, write_rgb
from invdn.data.io import IMAGE_SUFFIXES, chw_uint8_to_hwc
from invdn.engine import checkpoint
from invdn.inference.config import InferenceConfig
from invdn.inference.modes import image_generator, prepare_for_inference, run_mode
from invdn.inference.noise import generate_noisy
from invdn.inference.runtime import resolve_device
from invdn.models import InvDN, load_model


def image_files(paths: list[Path]) -> list[Path]:
    """Image files named, folders expanded (sorted).

    Raises:
        FileNotFoundError: no image among ``paths``.
    """
    files: list[Path] = []
    for p in paths:
        files += sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES) if p.is_dir() else [p]
    if not files:
        raise FileNotFoundError(f"no images found in {', '.join(map(str, paths))}")
    return files


def ready_model(weights: Path, inference: InferenceConfig) -> tuple[InvDN, dict]:
    """Any weights file through the one loader, on the inference device, prepared for its precision."""
    model, info = load_model(weights, resolve_device(inference.device))
    return prepare_for_inference(model, inference.precision), info


def denoise(files: list[Path], weights: Path, out_dir: Path, inference: InferenceConfig,
            progress: bool = True) -> list[Path]:
    """Denoise RGB image files into PNGs of the same names in ``out_dir``; sizes not divisible by
    2**down_blocks are reflect-padded at the bottom/right and cropped back. Returns the written files."""
    model, _ = ready_model(weights, inference)
    device = resolve_device(inference.device)
    written = []
    for f in tqdm(files, desc=f"denoise ({inference.mode.value}, {inference.draws} draws)", unit="img",
                  disable=not progress):
        noisy = uint8_to_float(read_rgb(f))[None].to(device)
        out = run_mode(model, noisy, [image_generator(inference.seed, f.stem, device)], inference.mode,
                       inference.mc_samples)[0]
        written.append(out_dir / f"{f.stem}.png")
        write_rgb(written[-1], chw_uint8_to_hwc(float_to_uint8(out.cpu())))
    return written


def generate_noise(files: list[Path], weights: Path, out_dir: Path, samples: int, inference: InferenceConfig,
                   progress: bool = True) -> list[Path]:
    """New noisy versions of real noisy images (paper §4.6: z' = z + eps v, then the reverse pass):
    ``<name>.png`` for one sample, else ``<name>_<k>.png`` (k = 00, 01, ...)."""
    model, _ = ready_model(weights, inference)
    device = resolve_device(inference.device)
    written = []
    for f in tqdm(files, desc=f"generate noise (eps={inference.eps:g}, samples={samples})", unit="img",
                  disable=not progress):
        noisy = uint8_to_float(read_rgb(f))[None].to(device)
        generated = generate_noisy(model, noisy, [image_generator(inference.seed, f.stem, device)], samples,
                                   inference.eps)[:, 0]
        for k, img in enumerate(generated):
            written.append(out_dir / (f"{f.stem}.png" if samples == 1 else f"{f.stem}_{k:02d}.png"))
            write_rgb(written[-1], chw_uint8_to_hwc(float_to_uint8(img.cpu())))
    return written


def import_weights(src: Path, out: Path, expect: dict | None = None) -> tuple[InvDN, dict]:
    """Official (InvDN_ResUnit_x4.pth), Paddle (.pdparams) or our weights -> a model file of ours; the
    architecture is read off the file, ``expect`` only asserts it (a contradiction names both)."""
    model, info = load_model(src, expect=expect)
    checkpoint.save(out, checkpoint.model_state(
        model, source=str(src), source_format=info["format"], name=info.get("name", Path(src).stem),
        scale=info.get("scale", "released")))
    return model, info
