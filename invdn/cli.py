"""The ``invdn`` command-line tool: what the Snakemake rules call, and what users call directly."""
from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import click

from . import __version__
from .atomic import write_text_atomic


class _Errors(click.Group):
    """Known errors print one clear message (no traceback) and exit 1; signals exit 128+N."""

    def invoke(self, ctx):
        from .checkpoint import CheckpointError
        from .config import ConfigError
        from .data import DataLayoutError, ImageError
        from .models.weights import WeightsError
        from .data.archive import ArchiveError
        from .submit import SubmissionError
        from .reporting.tracked import TableError
        from .tracking import Terminated
        from .train import NonFiniteLossError

        try:
            return super().invoke(ctx)
        except (ConfigError, DataLayoutError, ImageError, CheckpointError, NonFiniteLossError, TableError,
                WeightsError, SubmissionError, ArchiveError) as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(1)
        except OSError as e:
            if e.errno is None:  # not a file-system error: a bug, keep its traceback
                raise
            click.echo(f"error: {e}", err=True)  # disk full, unwritable folder, ... (atomic writes name the path)
            sys.exit(1)
        except Terminated as e:
            click.echo(f"terminated: {e}", err=True)
            sys.exit(143)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


def _tags(pairs: tuple[str, ...]) -> dict[str, str]:
    tags = {}
    for item in pairs:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--tag")
        tags[key] = value
    return tags


_ANY_CHECKPOINT = ("model.pt, a training checkpoint, or official .pth / Paddle .pdparams weights "
                   "(their architecture is read off the file).")

tag_option = click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="MLflow tag (repeatable).")
uri_option = click.option("--tracking-uri", default=None, help="MLflow store [env MLFLOW_TRACKING_URI, else sqlite:///results/mlflow.db].")
exp_option = click.option("--experiment", default="invdn-repro", show_default=True, help="MLflow experiment.")
threads_option = click.option(
    "--threads", type=click.IntRange(min=1), default=None, envvar="INVDN_THREADS", show_envvar=True,
    help="CPU threads of this command, shared by torchrun's processes [default: torch's choice].")


@click.group(cls=_Errors)
@click.version_option(__version__)
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def main(verbose: bool) -> None:
    """invdn-repro: train, evaluate and tabulate the Invertible Denoising Network (CVPR 2021)."""
    from .runtime import tune_allocator

    tune_allocator()  # freed tensors reused without page faults (1.4x per CPU denoise); INVDN_MALLOC=default skips
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@main.command("validate-data")
@click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path), help="Folder with Noisy/ and GT/ (and LQ/).")
@click.option("--lq-scale", type=int, default=None, help="Also require LQ/ images this many times smaller than GT/.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Manifest JSON to write.")
def validate_data(data_dir: Path, lq_scale: int | None, out: Path) -> None:
    """Read every pair, check sizes, and write a manifest with the sha256 of each file."""
    from .data import find_pairs, load_pair

    from .data.manifest import manifest_sha256, pair_entry

    pairs = find_pairs(data_dir, require_lq=lq_scale is not None)
    entries = []
    for pair in pairs:
        noisy, _, _ = load_pair(pair, lq_scale)
        entries.append({**pair_entry(pair), "height": int(noisy.shape[0]), "width": int(noisy.shape[1])})
    manifest = {"root": str(data_dir), "num_pairs": len(entries), "pairs": entries, "sha256": manifest_sha256(entries)}
    write_text_atomic(out, json.dumps(manifest, indent=1))
    click.echo(f"{data_dir}: {len(entries)} pairs OK -> {out}")


@main.command("mlflow-init")
@uri_option
@click.option("--experiment", "experiments", multiple=True, default=["invdn-repro"], show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Marker file to write when done.")
def mlflow_init(tracking_uri: str | None, experiments: tuple[str, ...], out: Path | None) -> None:
    """Create the MLflow store and experiments (run once, before parallel jobs)."""
    from .tracking import init_store, tracking_uri as resolve

    uri = resolve(tracking_uri)
    ids = init_store(uri, list(experiments))
    if out:
        write_text_atomic(out, json.dumps({"tracking_uri": uri, "experiments": ids}, indent=1))
    click.echo(f"MLflow store {uri}: experiments {ids}")


def _load_run_config(config: Path | None, config_json: str | None):
    from .config import ConfigError, load_yaml

    if (config is None) == (config_json is None):
        raise click.UsageError("give exactly one of --config FILE or --config-json JSON")
    if config is not None:
        return load_yaml(config), str(config)
    try:
        return json.loads(config_json), "--config-json"
    except json.JSONDecodeError as e:
        raise ConfigError(f"--config-json: not valid JSON ({e})") from None


def _train_data_tags(cfg) -> dict[str, str]:
    """Content hashes of the training and validation data for the run's tags. A prepared SIDD
    training set (``invdn prepare sidd-medium``) carries its own manifest hash; other folders are hashed."""
    from .data import find_pairs
    from .data.manifest import pairs_manifest

    prepared = Path(cfg.data.train) / "manifest.sha256"
    train = prepared.read_text().split()[0] if prepared.is_file() else pairs_manifest(find_pairs(cfg.data.train))[1]
    return {"train_manifest_sha256": train, "val_manifest_sha256": pairs_manifest(find_pairs(cfg.data.val))[1]}


@main.command()
@click.option("--config", type=click.Path(path_type=Path), default=None, help="YAML with data, model and train sections.")
@click.option("--config-json", default=None, help="The same sections as JSON (what Snakemake passes).")
@click.option("--out-dir", required=True, type=click.Path(path_type=Path), help="Run folder (model.pt, checkpoints/).")
@click.option("--resume/--no-resume", default=True, show_default=True, help="Continue from this config's last checkpoint.")
@threads_option
@click.option("--device", default=None, help="torch device, e.g. cpu, cuda, cuda:1 (overrides train.device).")
@click.option("--amp", type=click.Choice(["off", "fp16", "bf16"]), default=None, help="Mixed precision: bf16 (CUDA or AVX512-BF16/AMX CPUs) or fp16 (CUDA) (overrides train.amp).")
@uri_option
@exp_option
@tag_option
@click.option("--code-version", default=None,
              help="Hash of the training code (the DAG passes it): checkpoints of another code version are not resumed; "
                   "also the MLflow tag code_version.")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
def train(config, config_json, out_dir, resume, threads, device, amp, tracking_uri, experiment, tags, code_version,
          progress) -> None:
    """Train InvDN (or a learned baseline: model: {network: dncnn, ...}); every run is recorded in
    MLflow (params, losses, validation, model file)."""
    from dataclasses import replace

    from .config import config_hash, run_config
    from .distributed import check_launch, is_main
    from .tracking import MlflowLogger, tracked_run, tracking_uri as resolve
    from .train import train as run_training

    raw, source = _load_run_config(config, config_json)
    from baselines.learned import is_network_config, network_run_config, network_task

    task = {}
    if is_network_config(raw):  # a learned baseline (DnCNN, U-Net, blind-spot)
        cfg, task = network_run_config(raw, source), {"task": network_task}
    else:
        cfg = run_config(raw, source)
    if threads and os.environ.get("LOCAL_WORLD_SIZE"):  # torchrun: the job's threads shared by its processes
        threads = max(threads // int(os.environ["LOCAL_WORLD_SIZE"]), 1)
    overrides = {k: v for k, v in (("threads", threads), ("device", device), ("amp", amp)) if v is not None}
    cfg = replace(cfg, train=replace(cfg.train, **overrides))
    check_launch(cfg.train.processes)  # a wrong torchrun launch fails before an MLflow run is opened
    name, scale = raw.get("name", "custom"), raw.get("scale", "custom")
    resolved = {"name": name, "scale": scale, **cfg.to_dict()}
    out_dir.mkdir(parents=True, exist_ok=True)
    if not is_main():  # another process of a torchrun launch: rank 0 records the run and writes the files
        run_training(cfg, out_dir, resume=resume, progress=False, code_version=code_version, **task)
        return
    write_text_atomic(out_dir / "config.json", json.dumps(resolved, indent=1))
    all_tags = {"stage": "train", "config_hash": config_hash(resolved), "scale": scale, "variant": name, **_tags(tags)}
    all_tags.update(_train_data_tags(cfg))
    if code_version:
        all_tags["code_version"] = code_version
    with tracked_run(resolve(tracking_uri), experiment, f"train/{name}/seed{cfg.train.seed}", resolved, all_tags) as run:
        logger = MlflowLogger()
        result = run_training(
            cfg, out_dir, resume=resume, logger=logger, progress=progress,
            run_info={"name": name, "scale": scale, "mlflow_run_id": run.info.run_id}, code_version=code_version, **task,
        )
        logger.log_artifact(result.model_path, "model")
        logger.log_artifact(out_dir / "config.json")
    click.echo(f"trained {result.step} steps -> {result.model_path} (val {result.val})")


def _protocol_metrics(record: dict) -> dict[str, float]:
    """MLflow metrics of every protocol (psnr_<name>, ssim_<name>) and the canonical 95% intervals."""
    out = {}
    for name, entry in record["protocols"].items():
        for metric in ("psnr", "ssim"):
            out[f"{metric}_{name}"] = entry[metric]
            ci = entry[f"{metric}_ci"]
            if ci and name == record["protocol"]:
                out[f"{metric}_ci_low"], out[f"{metric}_ci_high"] = ci["low"], ci["high"]
    return out


def _tracked_evaluation(denoiser, data_dir, out, run_name, method, mode, mc_samples, seed, device,
                        params, tags, context, save_samples, tracking_uri, experiment, progress,
                        max_images: int = 0) -> dict:
    """Score ``denoiser`` on DIR's pairs (the first ``max_images`` in sorted order, 0 - all) inside an
    MLflow run; write the metrics JSON; return it."""
    import tempfile

    from .config import config_hash
    from .data import eval_pairs, write_rgb
    from .data.io import chw_uint8_to_hwc
    from .evaluate import metrics_record, score_pairs
    from .tracking import MlflowLogger, tracked_run, tracking_uri as resolve

    pairs = eval_pairs(data_dir)
    if max_images:
        pairs = pairs[:max_images]
        params = {**params, "max_images": max_images}
    from .metrics import CANONICAL, PROTOCOLS

    from .data.manifest import pairs_manifest

    params = {"data": str(data_dir), "method": method, "mode": mode, "mc_samples": mc_samples, "seed": seed,
              "device": str(device), "protocol": CANONICAL, "protocols": ",".join(PROTOCOLS), **params}
    all_tags = {"stage": "evaluate", "method": method, "mode": mode, "config_hash": config_hash(params),
                "data_manifest_sha256": pairs_manifest(pairs)[1], **tags}
    uri = resolve(tracking_uri)
    with tracked_run(uri, experiment, run_name, params, all_tags) as run, tempfile.TemporaryDirectory() as tmp:
        logger = MlflowLogger()
        kept: list[Path] = []

        def keep(name: str, img) -> None:
            if len(kept) < save_samples:
                path = Path(tmp) / f"{name}.png"
                write_rgb(path, chw_uint8_to_hwc(img))
                kept.append(path)

        scores = score_pairs(denoiser, pairs, device, progress=progress, on_image=keep, desc=run_name)
        record = metrics_record(
            scores, method, mode, mc_samples, seed, data=str(data_dir), device=str(device),
            mlflow={"tracking_uri": uri, "experiment": experiment, "run_id": run.info.run_id}, **context,
        )
        logger.log_metrics({**record["mean"], **_protocol_metrics(record), "num_parameters": record["num_parameters"]})
        write_text_atomic(out, json.dumps(record, indent=1))
        logger.log_artifact(out)
        for path in kept:
            logger.log_artifact(path, "samples")
    m = record["mean"]
    click.echo(
        f"{run_name}: PSNR {m['psnr']:.2f} dB, SSIM {m['ssim']:.4f} "
        f"(noisy input {m['noisy_psnr']:.2f} dB) on {len(scores)} images -> {out}"
    )
    return record


MODES = ["single", "mc", "x8", "x8_mc"]  # the values of ensembles.Mode (tests check), listed here to keep --help fast
data_option = click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path),
                           help="Folder with Noisy/ and GT/ PNG pairs, or a SIDD ...NoisyBlocksSrgb.mat (its ...GtBlocksSrgb.mat beside it).")
out_option = click.option("--out", required=True, type=click.Path(path_type=Path), help="Metrics JSON to write.")
data_name_option = click.option("--data-name", default=None, help="How tables name this data (default: the folder).")
samples_option = click.option("--save-samples", type=int, default=3, show_default=True, help="Denoised PNGs logged as artifacts.")
progress_option = click.option("--progress/--no-progress", default=True)
precision_option = click.option(
    "--precision", type=click.Choice(["float32", "bf16"]), default="float32", show_default=True,
    help="float32 (reference) or bf16 autocast (2-3x faster on AVX512-BF16/AMX CPUs and recent GPUs).")


@main.command()
@click.option("--checkpoint", required=True, type=click.Path(path_type=Path), help=_ANY_CHECKPOINT)
@data_option
@click.option("--mode", type=click.Choice(MODES), default=None,
              help="Inference mode [default: mc if --mc-samples > 1, else single].")
@click.option("--mc-samples", type=click.IntRange(min=1), default=1, show_default=True, help="z draws averaged per image in mc / x8_mc.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the per-image z generators.")
@click.option("--device", default="cpu", show_default=True)
@out_option
@data_name_option
@samples_option
@threads_option
@click.option("--max-images", type=click.IntRange(min=0), default=0, show_default=True,
              help="Score the first N pairs in sorted order (0 - all).")
@precision_option
@click.option("--released", default=None, metavar="NAME",
              help="Score these weights as released weights named NAME (Table 2's \"released weights\" rows).")
@uri_option
@exp_option
@tag_option
@progress_option
def evaluate(checkpoint, data_dir, mode, mc_samples, seed, device, out, data_name, save_samples, threads, max_images,
             precision, released, tracking_uri, experiment, tags, progress) -> None:
    """Denoise DIR/Noisy with InvDN, score against DIR/GT under every protocol, write a metrics JSON."""
    from .ensembles import Mode
    from .evaluate import invdn_denoiser

    model, dev, state = _load_model(checkpoint, device, threads, precision)
    mode = Mode(mode) if mode else (Mode.SINGLE if mc_samples == 1 else Mode.MC)
    mc_samples = mode.draws(mc_samples)
    mode = mode.value
    variant, scale = state.get("name", "custom"), state.get("scale", "custom")
    train_cfg = state.get("config", {}).get("train", {})
    _tracked_evaluation(
        invdn_denoiser(model, mode, mc_samples, seed), data_dir, out, f"evaluate/{variant}/{mode}", "invdn", mode,
        mc_samples, seed, dev,
        params={"checkpoint": str(checkpoint), "precision": precision, **({"released": released} if released else {}),
                "train": {k: v for k, v in train_cfg.items() if k in ("iterations", "batch_size", "patch_size", "lr", "seed", "noise_gain_max", "channel_shuffle")}},
        tags={"scale": scale, "variant": variant, **_tags(tags)},
        context={"label": "InvDN", "data_name": data_name or str(data_dir), "checkpoint": str(checkpoint),
                 "train_step": state.get("step"), "train_seed": train_cfg.get("seed"), "released": released,
                 "scale": scale, "variant": variant, "num_parameters": model.num_parameters()},
        save_samples=save_samples, tracking_uri=tracking_uri, experiment=experiment, progress=progress,
        max_images=max_images,
    )


@main.command("evaluate-baseline")
@click.option("--method", required=True, help="Baseline name: a classical one (nlm, tv, wavelet, bm3d, bicubic_down_up) "
              "or, with --checkpoint, the trained network's (dncnn, unet, blind_spot).")
@click.option("--checkpoint", type=click.Path(path_type=Path), default=None,
              help="model.pt of a learned baseline trained by `invdn train` (model: {network: ...}).")
@data_option
@out_option
@data_name_option
@samples_option
@click.option("--device", default="cpu", show_default=True, help="torch device of a learned baseline.")
@threads_option
@uri_option
@exp_option
@tag_option
@progress_option
def evaluate_baseline(method, checkpoint, data_dir, out, data_name, save_samples, device, threads, tracking_uri,
                      experiment, tags, progress) -> None:
    """Score a baseline denoiser on DIR exactly as InvDN is scored."""
    import torch

    from baselines import BASELINES
    from baselines.learned import LearnedBaseline

    from .ensembles import Mode
    from .train import resolve_device

    if threads:
        torch.set_num_threads(threads)
    if checkpoint is not None:
        baseline = LearnedBaseline(checkpoint, resolve_device(device))
        if baseline.name != method:
            raise click.BadParameter(f"{checkpoint} holds {baseline.name!r}, not {method!r}", param_hint="--method")
        scale = baseline.scale
    else:
        try:
            baseline, scale, device = BASELINES.get(method)(), "none", "cpu"
        except ValueError as e:
            raise click.BadParameter(f"{e} (trained networks need --checkpoint)", param_hint="--method") from None
        except ImportError as e:  # an optional package (bm3d)
            raise click.ClickException(str(e)) from None
    _tracked_evaluation(
        lambda noisy, name: baseline.denoise(noisy), data_dir, out, f"evaluate/{method}", method, Mode.SINGLE.value,
        1, 0, device, params={"settings": baseline.settings()}, tags={"variant": method, "scale": scale, **_tags(tags)},
        context={"label": baseline.label, "data_name": data_name or str(data_dir),
                 "num_parameters": baseline.num_parameters, "scale": scale},
        save_samples=save_samples, tracking_uri=tracking_uri, experiment=experiment, progress=progress,
    )


def _image_files(paths: tuple[Path, ...]) -> list[Path]:
    """Image files named on the command line, folders expanded (sorted); UsageError when none."""
    from .data.io import IMAGE_SUFFIXES

    files = []
    for p in paths:
        files += sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES) if p.is_dir() else [p]
    if not files:
        raise click.UsageError(f"no images found in {', '.join(map(str, paths))}")
    return files


def _load_model(checkpoint: Path, device: str, threads: int | None, precision: str = "float32"):
    """(model, device, metadata) from any weights file, through the one loader ``invdn.models.load_model``,
    ready for inference in ``precision`` (``ensembles.prepare_for_inference``)."""
    import torch

    from .ensembles import prepare_for_inference
    from .models import load_model
    from .train import resolve_device

    if threads:
        torch.set_num_threads(threads)
    dev = resolve_device(device)
    model, info = load_model(checkpoint, dev)
    return prepare_for_inference(model, precision), dev, info


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--checkpoint", required=True, type=click.Path(path_type=Path), help=_ANY_CHECKPOINT)
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Folder for the denoised PNGs (same names).")
@click.option("--mc-samples", type=click.IntRange(min=1), default=16, show_default=True, help="MC self-ensemble size; 1 turns it off.")
@click.option("--x8", is_flag=True, help="Also average the 8 flips/transposes (geometric self-ensemble).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the per-image z generators.")
@click.option("--device", default="cpu", show_default=True)
@threads_option
@precision_option
def denoise_cmd(paths, checkpoint, out_dir, mc_samples, x8, seed, device, threads, precision) -> None:
    """Denoise image files or folders (RGB PNG/JPEG) and write PNGs of the same names to --out.

    Sizes not divisible by 2**down_blocks are reflect-padded at the bottom/right and cropped back.
    """
    from tqdm import tqdm

    from .data import float_to_uint8, read_rgb, uint8_to_float, write_rgb
    from .data.io import chw_uint8_to_hwc
    from .ensembles import denoise, denoise_x8, image_generator

    files = _image_files(paths)
    model, dev, _ = _load_model(checkpoint, device, threads, precision)
    run = denoise_x8 if x8 else denoise
    for f in tqdm(files, desc=f"denoise (mc_samples={mc_samples}{', x8' if x8 else ''})", unit="img"):
        noisy = uint8_to_float(read_rgb(f))[None].to(dev)
        out = run(model, noisy, [image_generator(seed, f.stem, dev)], mc_samples)[0]
        write_rgb(out_dir / f"{f.stem}.png", chw_uint8_to_hwc(float_to_uint8(out.cpu())))
    click.echo(f"denoised {len(files)} image(s) -> {out_dir}")


@main.command("generate-noise")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--checkpoint", required=True, type=click.Path(path_type=Path), help=_ANY_CHECKPOINT)
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Folder for the generated noisy PNGs.")
@click.option("--samples", type=click.IntRange(min=1), default=1, show_default=True, help="Generated images per input.")
@click.option("--eps", type=click.FloatRange(min=0), default=2e-4, show_default=True, help="Perturbation of z (paper §4.6: 2e-4).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the per-image perturbations.")
@click.option("--device", default="cpu", show_default=True)
@threads_option
def generate_noise_cmd(paths, checkpoint, out_dir, samples, eps, seed, device, threads) -> None:
    """New noisy images from real noisy ones (paper §4.6): z' = z + eps * v, then the reverse pass.

    Writes <name>.png (one sample) or <name>_<k>.png (k = 00, 01, ...). The generator is
    conditioned on the real noisy image, unlike clean-to-noisy generators (DANet, PNGAN): its
    AKLD is not like-for-like with theirs.
    """
    from tqdm import tqdm

    from .data import float_to_uint8, read_rgb, uint8_to_float, write_rgb
    from .data.io import chw_uint8_to_hwc
    from .ensembles import image_generator
    from .generate import generate_noisy

    files = _image_files(paths)
    model, dev, _ = _load_model(checkpoint, device, threads)
    for f in tqdm(files, desc=f"generate noise (eps={eps:g}, samples={samples})", unit="img"):
        noisy = uint8_to_float(read_rgb(f))[None].to(dev)
        generated = generate_noisy(model, noisy, [image_generator(seed, f.stem, dev)], samples, eps)[:, 0]
        for k, img in enumerate(generated):
            name = f"{f.stem}.png" if samples == 1 else f"{f.stem}_{k:02d}.png"
            write_rgb(out_dir / name, chw_uint8_to_hwc(float_to_uint8(img.cpu())))
    click.echo(f"generated {samples} noisy image(s) for each of {len(files)} input(s) -> {out_dir}")


@main.command("import-weights")
@click.argument("src", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Model file to write (what `invdn evaluate` reads).")
@click.option("--down-blocks", type=int, default=None, help="Down-scale blocks [default: read off the file].")
@click.option("--inv-blocks", type=int, multiple=True, help="Coupling blocks, per scale or once for all [default: read off the file].")
@click.option("--transform", default=None, help="haar or squeeze [default: read off the file].")
@click.option("--subnet", default=None, help="resnet or densenet [default: read off the file].")
def import_weights_cmd(src, out, down_blocks, inv_blocks, transform, subnet) -> None:
    """Import official (InvDN_ResUnit_x4.pth), Paddle (.pdparams) or invdn-repro weights into a model file.

    The architecture is read off the file (``invdn.models.weights.infer_architecture``); a flag only
    asserts it, and one the file contradicts is an error naming both values.
    """
    from . import checkpoint
    from .models import load_model

    expect = {"down_blocks": down_blocks, "transform": transform, "subnet": subnet,
              "inv_blocks": (inv_blocks[0] if len(inv_blocks) == 1 else tuple(inv_blocks)) if inv_blocks else None}
    model, info = load_model(src, expect=expect)
    checkpoint.save(out, checkpoint.model_state(
        model, source=str(src), source_format=info["format"], name=info.get("name", Path(src).stem),
        scale=info.get("scale", "released"),
    ))
    click.echo(f"{src} ({info['format']}): {model.num_parameters():,} parameters, architecture {model.arch.to_dict()} -> {out}")


@main.command("profile")
@click.option("--checkpoint", type=click.Path(path_type=Path), default=None, help="Weights to profile, any file `denoise` reads (default: the paper's architecture, untrained).")
@click.option("--size", type=int, default=256, show_default=True, help="Side of the square RGB test image (paper: 256).")
@click.option("--device", default="cpu", show_default=True)
@click.option("--repeats", type=click.IntRange(min=1), default=3, show_default=True, help="Timed denoises (median reported).")
@threads_option
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Profile JSON to write (also logged to MLflow).")
@uri_option
@exp_option
@tag_option
def profile_cmd(checkpoint, size, device, repeats, threads, out, tracking_uri, experiment, tags) -> None:
    """Parameters, GMAC/GFLOPs of one forward + reverse pass, and seconds per image / megapixel."""
    import torch

    from .ensembles import prepare_for_inference
    from .models import InvDN, load_model
    from .profile import profile
    from .tracking import MlflowLogger, tracked_run, tracking_uri as resolve
    from .train import resolve_device

    if threads:
        torch.set_num_threads(threads)
    dev = resolve_device(device)
    if checkpoint is not None:
        model, state = load_model(checkpoint, dev)
        variant = state.get("name", "custom")
    else:
        model, variant = InvDN().to(dev), "paper-architecture"
    result = profile(prepare_for_inference(model), size, repeats).to_dict()  # timed as evaluate runs it
    click.echo(
        f"{variant}: {result['parameters']:,} parameters; {result['gmac']:.2f} GMAC = {result['gflops']:.2f} GFLOPs "
        f"(forward + reverse, {size}x{size}; 1 MAC = 2 FLOPs); {result['seconds_per_image']:.3f} s/image, "
        f"{result['seconds_per_megapixel']:.3f} s/MP on {result['device']} ({result['threads']} threads)"
    )
    if out is None:
        return
    params = {"checkpoint": str(checkpoint), "arch": model.arch.to_dict(), "size": size, "device": str(dev), "repeats": repeats}
    uri = resolve(tracking_uri)
    with tracked_run(uri, experiment, f"profile/{variant}", params, {"stage": "profile", "variant": variant, **_tags(tags)}) as run:
        MlflowLogger().log_metrics({k: result[k] for k in ("parameters", "gmac", "gflops", "seconds_per_image", "seconds_per_megapixel")})
        record = {**result, "arch": model.arch.to_dict(), "checkpoint": str(checkpoint),
                  "mlflow": {"tracking_uri": uri, "experiment": experiment, "run_id": run.info.run_id}}
        write_text_atomic(out, json.dumps(record, indent=1))
        MlflowLogger().log_artifact(out)


def _tracked_json(out: Path, run_name: str, params: dict, tags: dict, record: dict, metrics: dict[str, float],
                  artifacts: list[Path], tracking_uri: str | None, experiment: str) -> None:
    """Log ``record`` as an MLflow run (params, metrics, artifacts) and write it to ``out`` with the run id."""
    from .tracking import MlflowLogger, tracked_run, tracking_uri as resolve

    uri = resolve(tracking_uri)
    with tracked_run(uri, experiment, run_name, params, tags) as run:
        logger = MlflowLogger()
        logger.log_metrics(metrics)
        record = {**record, "mlflow": {"tracking_uri": uri, "experiment": experiment, "run_id": run.info.run_id}}
        write_text_atomic(out, json.dumps(record, indent=1))
        for path in [out, *artifacts]:
            logger.log_artifact(path)


def _counts(value: str) -> list[int]:
    try:
        counts = sorted({int(v) for v in value.split(",")})
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from None
    if not counts or counts[0] < 1:
        raise click.BadParameter(f"counts must be >= 1, got {value!r}")
    return counts


@main.command("mc-sweep")
@click.option("--checkpoint", required=True, type=click.Path(path_type=Path), help=_ANY_CHECKPOINT)
@data_option
@click.option("--counts", default="1,2,4,8,16,32", show_default=True, help="mc_samples values (comma-separated).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the per-image z generators.")
@click.option("--device", default="cpu", show_default=True)
@threads_option
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Sweep JSON; figures are written beside it.")
@uri_option
@exp_option
@tag_option
@progress_option
def mc_sweep_cmd(checkpoint, data_dir, counts, seed, device, threads, out, tracking_uri, experiment, tags, progress) -> None:
    """MC self-ensemble analysis (paper §4.5): PSNR/SSIM and runtime against mc_samples, Fig. 6."""
    from .data import eval_pairs
    from .figures import mc_curve, residual_maps
    from .mc_sweep import mc_sweep

    counts = _counts(counts)
    model, dev, info = _load_model(checkpoint, device, threads)
    record, images = mc_sweep(model, eval_pairs(data_dir), counts, seed, dev, progress=progress)
    record.update(checkpoint=str(checkpoint), data=str(data_dir), train_seed=_train_seed(info))
    stem = out.with_suffix("")
    figures = mc_curve(record, stem.with_name(stem.name + "_curve"))
    figures += residual_maps(images, counts, stem.with_name(stem.name + "_residuals"),
                             title=f"{record['figure_image']}: |output - clean|")
    metrics = {}
    for c in record["curve"]:
        k = c["mc_samples"]
        metrics.update({f"psnr_mc{k}": c["psnr"], f"ssim_mc{k}": c["ssim"], f"gain_mc{k}": c["gain_over_single"]["mean"],
                        f"fraction_improved_mc{k}": c["fraction_improved"], f"seconds_mc{k}": c["seconds_per_image"]})
    params = {"checkpoint": str(checkpoint), "data": str(data_dir), "counts": ",".join(map(str, counts)), "seed": seed,
              "device": str(dev), "protocol": record["protocol"]}
    _tracked_json(out, "mc_sweep", params, {"stage": "mc_sweep", **_tags(tags)}, record, metrics, figures,
                  tracking_uri, experiment)
    for c in record["curve"]:
        click.echo(f"MC-{c['mc_samples']:<3d} PSNR {c['psnr']:.2f} dB [{c['psnr_ci']['low']:.2f}, {c['psnr_ci']['high']:.2f}]  "
                   f"gain {c['gain_over_single']['mean']:+.3f} dB, improved on {100 * c['fraction_improved']:.1f}% "
                   f"of images, {c['seconds_per_image']:.2f} s/image")


def _train_seed(info: dict) -> int | None:
    """The training seed of a model file of ours (None for released weights)."""
    seed = ((info.get("config") or {}).get("train") or {}).get("seed")
    return None if seed is None else int(seed)


def _generator(checkpoint, noise_model, samples, eps, seed, device, threads):
    """InvDN's generator (a checkpoint) or a noise model, with what describes it for records and MLflow."""
    from .generate import invdn_generator

    if checkpoint is not None:
        model, dev, info = _load_model(checkpoint, device, threads)
        return invdn_generator(model, samples, eps, seed, dev), {
            "generator": "invdn", "conditioned_on_noisy": True, "eps": eps, "checkpoint": str(checkpoint),
            "device": str(dev), "train_seed": _train_seed(info)}
    if noise_model is None:
        raise click.UsageError("give --checkpoint (InvDN's generator) or --noise-model")
    from baselines.noise_models import NOISE_MODELS, noise_model_generator

    try:
        model = NOISE_MODELS.get(noise_model)()
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--noise-model") from None
    return noise_model_generator(model, samples, seed), {
        "generator": noise_model, "noise_model": noise_model, "label": model.label, "conditioned_on_noisy": False,
        "fitted_to": "each image's real residual noisy - clean"}


@main.command("akld")
@click.option("--checkpoint", type=click.Path(path_type=Path), default=None, help="Score InvDN's generator: " + _ANY_CHECKPOINT)
@click.option("--generated", "generated_dir", type=click.Path(path_type=Path), default=None,
              help="Or score pre-generated images: DIR/<name>_<k>.png (as `invdn generate-noise` writes).")
@click.option("--generator", "generator_name", default=None, help="Name recorded for --generated images [default: the folder].")
@click.option("--noise-model", default=None,
              help="Or a noise model fitted per image to the real residual: awgn, heteroscedastic, multivariate_gaussian.")
@data_option
@click.option("--samples", type=click.IntRange(min=1), default=50, show_default=True, help="Generated images per pair (L; DANet: 50).")
@click.option("--eps", type=click.FloatRange(min=0), default=2e-4, show_default=True, help="Perturbation of z (paper §4.6: 2e-4).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@threads_option
@click.option("--out", required=True, type=click.Path(path_type=Path), help="AKLD JSON to write.")
@uri_option
@exp_option
@tag_option
@progress_option
def akld_cmd(checkpoint, generated_dir, generator_name, noise_model, data_dir, samples, eps, seed, device, threads,
             out, tracking_uri, experiment, tags, progress) -> None:
    """AKLD of generated noise on real pairs (paper Table 5; DANet's metric): InvDN's generator
    (--checkpoint), a noise model (--noise-model) or a folder of pre-generated images (--generated)."""
    from .data import eval_pairs
    from .generate import folder_generator, score_generation

    if sum(x is not None for x in (checkpoint, generated_dir, noise_model)) != 1:
        raise click.UsageError("give exactly one of --checkpoint (InvDN's generator), --noise-model and --generated (a folder)")
    if generated_dir is None:
        generate, extra = _generator(checkpoint, noise_model, samples, eps, seed, device, threads)
        params = {k: v for k, v in extra.items() if k in ("checkpoint", "eps", "device", "noise_model")}
        name = extra["generator"]
    else:
        generate, name = folder_generator(generated_dir, samples), generator_name or generated_dir.name
        params = {"generated": str(generated_dir)}
        extra = {"generator": name, "generated": str(generated_dir)}
    record = {**score_generation(eval_pairs(data_dir), generate, seed, progress), **extra, "seed": seed,
              "data": str(data_dir)}
    params.update(data=str(data_dir), samples=samples, seed=seed, generator=name)
    metrics = {"akld": record["akld"], "akld_ci_low": record["akld_ci"]["low"], "akld_ci_high": record["akld_ci"]["high"]}
    _tracked_json(out, f"akld/{name}", params, {"stage": "noise_generation", **_tags(tags)}, record, metrics, [],
                  tracking_uri, experiment)
    click.echo(f"AKLD ({name}) {record['akld']:.4f} [{record['akld_ci']['low']:.4f}, {record['akld_ci']['high']:.4f}] "
               f"over {record['num_images']} images, L = {samples} -> {out}")


@main.command("generate-pairs")
@click.option("--checkpoint", type=click.Path(path_type=Path), default=None, help="InvDN's generator: " + _ANY_CHECKPOINT)
@click.option("--noise-model", default=None,
              help="Or a noise model fitted per training image: awgn, heteroscedastic, multivariate_gaussian.")
@click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path), help="Real training pairs (Noisy/, GT/, LQ/).")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Folder for the generated pairs.")
@click.option("--eps", type=click.FloatRange(min=0), default=2e-4, show_default=True, help="Perturbation of z (paper §4.6).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@threads_option
@progress_option
def generate_pairs_cmd(checkpoint, noise_model, data_dir, out_dir, eps, seed, device, threads, progress) -> None:
    """Training pairs with generated noise (for PGap): Noisy generated, GT and LQ copied."""
    from .data import find_pairs
    from .pgap import write_generated_pairs

    generate, manifest = _generator(checkpoint, noise_model, 1, eps, seed, device, threads)
    rows = write_generated_pairs(generate, find_pairs(data_dir, require_lq=True), out_dir, progress,
                                 f"generate training pairs ({manifest['generator']})")
    manifest.update(source=str(data_dir), seed=seed, pairs=rows)
    write_text_atomic(out_dir / "manifest.json", json.dumps(manifest, indent=1))
    click.echo(f"{len(rows)} generated pairs -> {out_dir}")


@main.command("pgap")
@click.option("--real", "real_file", required=True, type=click.Path(path_type=Path), help="Metrics JSON of the denoiser trained on real pairs.")
@click.option("--generated", "generated_file", required=True, type=click.Path(path_type=Path), help="Metrics JSON of the same denoiser trained on generated pairs.")
@click.option("--generator", default="invdn", show_default=True, help="Name of the noise generator.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="PGap JSON to write.")
@uri_option
@exp_option
@tag_option
def pgap_cmd(real_file, generated_file, generator, out, tracking_uri, experiment, tags) -> None:
    """PGap = PSNR(trained on real) - PSNR(trained on generated), paired over the same val images."""
    from .pgap import pgap_record

    real, generated = (json.loads(Path(f).read_text()) for f in (real_file, generated_file))
    try:
        record = pgap_record(real, generated)
    except ValueError as e:
        raise click.UsageError(f"{real_file} vs {generated_file}: {e}") from None
    record.update(generator=generator, real=str(real_file), generated=str(generated_file))
    metrics = {"pgap": record["pgap"], "pgap_ci_low": record["pgap_ci"]["low"], "pgap_ci_high": record["pgap_ci"]["high"],
               "psnr_real": record["psnr_real"], "psnr_generated": record["psnr_generated"]}
    params = {"generator": generator, "real": str(real_file), "generated": str(generated_file),
              "protocol": record["metric_protocol"], "pgap_protocol": record["protocol_label"]}
    _tracked_json(out, f"pgap/{generator}", params, {"stage": "pgap", **_tags(tags)}, record, metrics, [],
                  tracking_uri, experiment)
    click.echo(f"PGap ({generator}) {record['pgap']:.3f} dB [{record['pgap_ci']['low']:.3f}, "
               f"{record['pgap_ci']['high']:.3f}]: real {record['psnr_real']:.2f} dB, generated "
               f"{record['psnr_generated']:.2f} dB -> {out}")


@main.group()
def prepare() -> None:
    """Prepare the official SIDD downloads into Noisy/ GT/ (LQ/) folders."""


@prepare.command("extract")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Folder to extract into.")
def prepare_extract(archive, out_dir) -> None:
    """Unpack a download (.zip or .tar*) after checking that no member escapes --out (absolute
    paths, '..', links refuse the whole archive)."""
    from .data.archive import extract_archive

    files = extract_archive(archive, out_dir)
    click.echo(f"{len(files)} files from {archive} -> {out_dir}")


@prepare.command("sidd-medium")
@click.option("--root", required=True, type=click.Path(path_type=Path), help="SIDD_Medium_Srgb/Data (one folder per scene instance).")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Folder for Noisy/, GT/, LQ/ patches.")
@click.option("--patch", type=click.IntRange(min=16), default=512, show_default=True, help="Patch side (LQ: patch / 4).")
@click.option("--per-image", type=click.IntRange(min=1), default=100, show_default=True, help="Random crops per image (official: 100).")
@click.option("--stride", type=click.IntRange(min=1), default=None, help="Grid crops with this stride instead of random ones.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random crops.")
@click.option("--workers", type=int, default=None, help="Processes [default: all cores].")
@progress_option
def prepare_sidd_medium_cmd(root, out_dir, patch, per_image, stride, seed, workers, progress) -> None:
    """SIDD Medium sRGB (320 pairs) -> patches with MATLAB-bicubic LQ, a manifest with sha256; resumable."""
    from .data.sidd import prepare_sidd_medium

    r = prepare_sidd_medium(root, out_dir, patch, per_image, seed, stride, workers, progress)
    click.echo(f"{r.n_patches} patches from {r.n_images} images ({r.n_written} written, {r.n_skipped} verified "
               f"and kept) -> {r.out}; manifest sha256 {r.manifest_sha256}")


@prepare.command("sidd-val")
@click.option("--noisy", required=True, type=click.Path(path_type=Path), help="ValidationNoisyBlocksSrgb.mat")
@click.option("--gt", required=True, type=click.Path(path_type=Path), help="ValidationGtBlocksSrgb.mat")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Folder for Noisy/ and GT/ PNG pairs.")
def prepare_sidd_val(noisy, gt, out_dir) -> None:
    """SIDD validation blocks (.mat, 40 x 32 x 256 x 256 x 3 uint8) -> 1280 PNG pairs ii_jj.PNG."""
    from .data.matfiles import export_sidd_val

    count = export_sidd_val(noisy, gt, out_dir)
    write_text_atomic(out_dir / "prepare.json", json.dumps(
        {"dataset": "sidd-val", "noisy": str(noisy), "gt": str(gt), "pairs": count}, indent=1))
    click.echo(f"{count} SIDD validation pairs -> {out_dir}")


@main.group()
def submit() -> None:
    """Files the SIDD and DND benchmark servers accept, denoised by a model."""


_submit_options = [
    click.option("--checkpoint", required=True, type=click.Path(path_type=Path), help=_ANY_CHECKPOINT),
    click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Folder for the submission files and zip."),
    click.option("--mode", type=click.Choice(MODES), default="mc", show_default=True, help="Inference mode."),
    click.option("--mc-samples", type=click.IntRange(min=1), default=16, show_default=True, help="Draws in mc / x8_mc."),
    click.option("--seed", type=int, default=0, show_default=True),
    click.option("--device", default="cpu", show_default=True),
    threads_option,
    progress_option,
]


def _with_submit_options(f):
    for option in reversed(_submit_options):
        f = option(f)
    return f


@submit.command("sidd")
@click.option("--bench", required=True, type=click.Path(path_type=Path), help="BenchmarkNoisyBlocksSrgb.mat")
@click.option("--numeric-array", is_flag=True, help="Write DenoisedBlocksSrgb as one uint8 array (the official InvDN layout), not a cell.")
@click.option("--method-name", default="InvDN (invdn-repro)", show_default=True, help="OptionalData.MethodName")
@click.option("--grid", default="40,32", show_default=True, metavar="A,B",
              help="Block grid the benchmark file must have (SIDD's 40 x 32; other values for subsets and fixtures).")
@_with_submit_options
def submit_sidd_cmd(bench, numeric_array, method_name, grid, checkpoint, out_dir, mode, mc_samples, seed, device, threads,
                    progress) -> None:
    """Denoise the 1280 SIDD benchmark blocks -> SubmitSrgb.mat (+ zip to upload)."""
    import platform

    from .benchmark_sets import submit_sidd

    model, dev, _ = _load_model(checkpoint, device, threads)
    optional = {"MethodName": method_name, "PaperTitle": "Invertible Denoising Network: A Light Solution for Real "
                "Noise Removal", "Venue": "CVPR 2021",
                "MachineSpecs": f"{platform.processor() or platform.machine()}, {dev}, {_threads_label(dev)}"}
    try:
        expected = tuple(int(v) for v in grid.split(","))
        assert len(expected) == 2 and min(expected) >= 1
    except (ValueError, AssertionError):
        raise click.BadParameter(f"expected two positive integers A,B, got {grid!r}", param_hint="--grid") from None
    summary = submit_sidd(model, bench, out_dir, mode, mc_samples, seed, optional, numeric_array, progress, expected)
    click.echo(f"{summary['blocks']} blocks denoised ({mode}), {summary['time_mp']:.3f} s/MP -> {summary['mat']}; "
               f"upload {summary['zip']}")


@submit.command("dnd")
@click.option("--root", required=True, type=click.Path(path_type=Path), help="DND folder with info.mat and images_srgb/.")
@click.option("--images", type=click.IntRange(min=1), default=50, show_default=True,
              help="DND images to denoise (the benchmark's 50; fewer for subsets and fixtures).")
@_with_submit_options
def submit_dnd_cmd(root, images, checkpoint, out_dir, mode, mc_samples, seed, device, threads, progress) -> None:
    """Denoise the 50 x 20 DND crops -> per-crop .mat, PNG previews, bundled/*.mat (+ zip to upload)."""
    from .benchmark_sets import submit_dnd

    model, dev, _ = _load_model(checkpoint, device, threads)
    summary = submit_dnd(model, root, out_dir, mode, mc_samples, seed, n_images=images, progress=progress)
    click.echo(f"{summary['crops']} DND crops denoised ({mode}) in {summary['seconds']:.1f} s; upload {summary['zip']}")


def _threads_label(device) -> str:
    import torch

    return f"{torch.get_num_threads()} threads" if str(device) == "cpu" else "GPU"


@main.group()
def runs() -> None:
    """Maintenance of the MLflow store."""


@runs.command("repair")
@uri_option
@click.option("--dry-run", is_flag=True, help="Only report what would be marked.")
def runs_repair(tracking_uri, dry_run) -> None:
    """Mark FAILED the runs left RUNNING by a process that is gone (kill -9, OOM, lost node)."""
    from .tracking import repair_runs, tracking_uri as resolve

    report = repair_runs(resolve(tracking_uri), dry_run)
    for r in report:
        click.echo(f"{r['run_id']} {r['name']} (pid {r['pid']} on {r['host']}): {r['action']}")
    click.echo(f"{sum(r['action'].endswith('FAILED') for r in report)} of {len(report)} RUNNING run(s) "
               f"{'would be ' if dry_run else ''}marked FAILED")


from . import cli_figures, cli_presets, cli_tables  # noqa: E402,F401  (register those command groups)

if __name__ == "__main__":
    main()
