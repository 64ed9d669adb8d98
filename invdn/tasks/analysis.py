"""Analysis tasks, each a tracked record: the model's cost (profile), the MC self-ensemble sweep (paper
§4.5), the AKLD of generated noise (Table 5), training pairs with generated noise and PGap."""
from __future__ import annotations

import json
from pathlib import Path

from invdn.analysis.cost import profile as profile_model
from invdn.analysis.mc_sweep import mc_sweep as sweep
from invdn.analysis.pgap import pgap_record, write_generated_pairs
from invdn.atomic import write_text_atomic
from invdn.data import eval_pairs, find_pairs
from invdn.inference.config import InferenceConfig
from invdn.inference.modes import prepare_for_inference
from invdn.inference.noise import Generator, folder_generator, invdn_generator, score_generation
from invdn.inference.runtime import resolve_device
from invdn.models import InvDN, load_model
from invdn.models.registry import NOISE_MODELS
from invdn.reporting.figures import mc_curve, residual_maps
from invdn.tasks.common import TrackingConfig, record_run


def train_seed(info: dict) -> int | None:
    """The training seed of a model file of ours (None for released weights)."""
    seed = ((info.get("config") or {}).get("train") or {}).get("seed")
    return None if seed is None else int(seed)


def profile(weights: Path | None, size: int, device: str, repeats: int, out: Path | None,
            tracking: TrackingConfig) -> dict:
    """Parameters, GMAC of one forward + reverse pass on a size x size image, and seconds per image and
    per megapixel, timed as evaluation runs the model; recorded when ``out`` is given.
    ``weights`` None profiles the paper's architecture, untrained."""
    dev = resolve_device(device)
    if weights is not None:
        model, state = load_model(weights, dev)
        variant = state.get("name", "custom")
    else:
        model, variant = InvDN().to(dev), "paper-architecture"
    result = {**profile_model(prepare_for_inference(model), size, repeats).to_dict(), "variant": variant}
    if out is None:
        return result
    params = {"checkpoint": str(weights), "arch": model.arch.to_dict(), "size": size, "device": str(dev),
              "repeats": repeats}
    metrics = {k: result[k] for k in ("parameters", "gmac", "gflops", "seconds_per_image", "seconds_per_megapixel")}
    record = {**result, "arch": model.arch.to_dict(), "checkpoint": str(weights)}
    return record_run(out, f"profile/{variant}", params, {"stage": "profile", "variant": variant}, record, metrics,
                      tracking)


def mc_sweep(weights: Path, data: Path, counts: list[int], inference: InferenceConfig, out: Path,
             tracking: TrackingConfig, progress: bool = True) -> dict:
    """MC-k for every k in ``counts`` (one batch of max(counts) draws per image), with the curve and
    residual figures beside ``out``."""
    model, info = load_model(weights, resolve_device(inference.device))
    record, images = sweep(prepare_for_inference(model, inference.precision), eval_pairs(data), counts, inference.seed,
                           resolve_device(inference.device), progress=progress)
    record.update(checkpoint=str(weights), data=str(data), train_seed=train_seed(info))
    stem = out.with_suffix("")
    figures = mc_curve(record, stem.with_name(stem.name + "_curve"))
    figures += residual_maps(images, record["counts"], stem.with_name(stem.name + "_residuals"),
                             title=f"{record['figure_image']}: |output - clean|")
    metrics = {}
    for c in record["curve"]:
        k = c["mc_samples"]
        metrics.update({f"psnr_mc{k}": c["psnr"], f"ssim_mc{k}": c["ssim"], f"gain_mc{k}": c["gain_over_single"]["mean"],
                        f"fraction_improved_mc{k}": c["fraction_improved"], f"seconds_mc{k}": c["seconds_per_image"]})
    params = {"checkpoint": str(weights), "data": str(data), "counts": ",".join(map(str, record["counts"])),
              "seed": inference.seed, "device": record["device"], "protocol": record["protocol"]}
    return record_run(out, "mc_sweep", params, {"stage": "mc_sweep"}, record, metrics, tracking,
                      [(f, None) for f in figures])


def generator(source: Path | str, samples: int, inference: InferenceConfig) -> tuple[Generator, dict]:
    """InvDN's generator (``source`` a weights file: z' = z + eps v, paper §4.6) or a noise model by
    name, with what describes it for records and MLflow.

    Raises:
        ValueError: an unknown noise model (the known ones listed).
    """
    if isinstance(source, Path):
        device = resolve_device(inference.device)
        model, info = load_model(source, device)
        model = prepare_for_inference(model, inference.precision)
        return invdn_generator(model, samples, inference.eps, inference.seed, device), {
            "generator": "invdn", "conditioned_on_noisy": True, "eps": inference.eps, "checkpoint": str(source),
            "device": str(device), "train_seed": train_seed(info)}
    generate, label = NOISE_MODELS.get(source)(samples, inference.seed)
    return generate, {"generator": source, "noise_model": source, "label": label, "conditioned_on_noisy": False,
                      "fitted_to": "each image's real residual noisy - clean"}


def akld(source: Path | str, data: Path, samples: int, inference: InferenceConfig, out: Path,
         tracking: TrackingConfig, progress: bool = True, generated: Path | None = None) -> dict:
    """AKLD of generated noise on real pairs (paper Table 5; DANet's metric): InvDN's generator, a
    noise model, or (``generated``) a folder of pre-generated images named ``source``."""
    if generated is None:
        generate, extra = generator(source, samples, inference)
        params = {k: v for k, v in extra.items() if k in ("checkpoint", "eps", "device", "noise_model")}
    else:
        generate = folder_generator(generated, samples)
        params, extra = {"generated": str(generated)}, {"generator": str(source), "generated": str(generated)}
    name = extra["generator"]
    record = {**score_generation(eval_pairs(data), generate, inference.seed, progress), **extra,
              "seed": inference.seed, "data": str(data)}
    params.update(data=str(data), samples=samples, seed=inference.seed, generator=name)
    metrics = {"akld": record["akld"], "akld_ci_low": record["akld_ci"]["low"], "akld_ci_high": record["akld_ci"]["high"]}
    return record_run(out, f"akld/{name}", params, {"stage": "noise_generation"}, record, metrics, tracking)


def generate_pairs(source: Path | str, data: Path, out_dir: Path, inference: InferenceConfig,
                   progress: bool = True) -> dict:
    """Training pairs with generated noise (PGap): Noisy generated from InvDN's generator or a noise
    model, GT and LQ copied; ``out_dir/manifest.json`` written last. Returns the manifest."""
    generate, manifest = generator(source, 1, inference)
    rows = write_generated_pairs(generate, find_pairs(data, require_lq=True), out_dir, progress,
                                 f"generate training pairs ({manifest['generator']})")
    manifest.update(source=str(data), seed=inference.seed, pairs=rows)
    write_text_atomic(out_dir / "manifest.json", json.dumps(manifest, indent=1))
    return manifest


def pgap(real: Path, generated: Path, name: str, out: Path, tracking: TrackingConfig) -> dict:
    """PGap = PSNR(trained on real) - PSNR(trained on generated), paired over the same val images.

    Raises:
        ValueError: the two metrics files scored other images or protocols (both named).
    """
    records = [json.loads(Path(f).read_text()) for f in (real, generated)]
    try:
        record = pgap_record(*records)
    except ValueError as e:
        raise ValueError(f"{real} vs {generated}: {e}") from None
    record.update(generator=name, real=str(real), generated=str(generated))
    metrics = {"pgap": record["pgap"], "pgap_ci_low": record["pgap_ci"]["low"], "pgap_ci_high": record["pgap_ci"]["high"],
               "psnr_real": record["psnr_real"], "psnr_generated": record["psnr_generated"]}
    params = {"generator": name, "real": str(real), "generated": str(generated),
              "protocol": record["metric_protocol"], "pgap_protocol": record["protocol_label"]}
    return record_run(out, f"pgap/{name}", params, {"stage": "pgap"}, record, metrics, tracking)
