"""PGap: how well a denoiser trained on generated noise does on real noise (DANet / PNGAN protocol).

PGap = PSNR of a denoiser trained on real noisy/clean pairs minus PSNR of the same denoiser (same
schedule and seed) trained on generated pairs built from the same clean images, both evaluated
on the same real val pairs with the canonical protocol. Neither DANet nor PNGAN specified the
denoiser, so the one used here (this project's InvDN training, pluggable) is labelled
"harness protocol": PGap values are comparable within this harness, not with published tables.

InvDN's generator is conditioned on the real noisy image (z' = z + eps v), so its generated
training pairs carry most of the real noise: its PGap, like its AKLD, is not like-for-like with
clean-to-noisy generators. The noise models of ``baselines.noise_models`` (fitted per training
image to its real residual) are generators here too.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

from invdn.atomic import write_atomic
from invdn.data import ImagePair, float_to_uint8, load_pair, uint8_to_float, write_rgb
from invdn.data.io import chw_uint8_to_hwc
from invdn.data.manifest import sha256_file
from invdn.inference.noise import Generator
from invdn.analysis.bootstrap import paired_difference_ci

PGAP_FORMAT = "invdn-repro/pgap/1"
PROTOCOL_LABEL = "harness protocol"


@torch.no_grad()
def write_generated_pairs(
    generate: Generator,
    pairs: Sequence[ImagePair],
    out: str | Path,
    progress: bool = False,
    desc: str = "generate training pairs",
) -> list[dict]:
    """A training folder of generated pairs: out/Noisy (one image of ``generate`` per real pair:
    InvDN's generator or a fitted noise model), out/GT and out/LQ (copies of the real clean and LQ
    images), same file names.

    Returns one manifest row per pair (names and sha256 of the three files). Files are written
    atomically, so an interrupted run leaves no half-written image.
    """
    out = Path(out)
    rows = []
    for pair in tqdm(pairs, desc=desc, unit="img", disable=not progress):
        noisy_u8, _, _ = load_pair(pair)
        generated = generate(pair, uint8_to_float(noisy_u8)[None])[0, 0]
        dst = {"noisy": out / "Noisy" / pair.noisy.name, "clean": out / "GT" / pair.clean.name}
        write_rgb(dst["noisy"], chw_uint8_to_hwc(float_to_uint8(generated.cpu())))
        write_atomic(dst["clean"], lambda tmp, src=pair.clean: shutil.copyfile(src, tmp))
        if pair.lq is not None:
            dst["lq"] = out / "LQ" / pair.lq.name
            write_atomic(dst["lq"], lambda tmp, src=pair.lq: shutil.copyfile(src, tmp))
        rows.append({"name": pair.name, **{f"{k}_sha256": sha256_file(p) for k, p in dst.items()}})
    return rows


def pgap_record(real: dict, generated: dict, seed: int = 0) -> dict:
    """PGap from two metrics records (``invdn evaluate`` JSON) of the same val images.

    Raises:
        ValueError: the records were not scored on the same images, or not with the same protocol.
    """
    if real["protocol"] != generated["protocol"]:
        raise ValueError(f"protocols differ: {real['protocol']} vs {generated['protocol']}")
    a = {i["name"]: i["psnr"] for i in real["images"]}
    b = {i["name"]: i["psnr"] for i in generated["images"]}
    if set(a) != set(b):
        raise ValueError(f"the two evaluations scored different images: {sorted(set(a) ^ set(b))[:5]} ...")
    names = sorted(a)
    diff = paired_difference_ci([a[n] for n in names], [b[n] for n in names], seed=seed)
    return {
        "format": PGAP_FORMAT,
        "protocol_label": PROTOCOL_LABEL,
        "metric_protocol": real["protocol"],
        "psnr_real": float(np.mean([a[n] for n in names])),
        "psnr_generated": float(np.mean([b[n] for n in names])),
        "pgap": diff.mean,
        "pgap_ci": diff.to_dict(),
        "num_images": len(names),
        "train_seed": real.get("train_seed"),
        "images": [{"name": n, "psnr_real": a[n], "psnr_generated": b[n]} for n in names],
    }
