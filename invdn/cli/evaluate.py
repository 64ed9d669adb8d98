"""``invdn evaluate`` and ``invdn evaluate-baseline``: a denoiser scored on real pairs under every
metric protocol, recorded as a metrics JSON."""
from __future__ import annotations

from pathlib import Path

import click

from invdn.cli.common import (checkpoint_option, data_option, grouped, inference_options, main, out_file,
                              progress_option, threads_option, tracking_options, usage)


def _eval_data(data, data_name, save_samples, max_images=0):
    from invdn.tasks.evaluate import EvalData

    return "data", EvalData(data, data_name, max_images, save_samples)


_data_name = click.option("--data-name", default=None, help="How tables name this data [default: the folder].")
_samples = click.option("--save-samples", type=click.IntRange(min=0), default=3, show_default=True,
                        help="Denoised PNGs logged as artifacts.")
_max_images = click.option("--max-images", type=click.IntRange(min=0), default=0, show_default=True,
                           help="Score the first N pairs in sorted order (0: all).")


def _echo(record: dict, out: Path) -> None:
    m = record["mean"]
    click.echo(f"{record['method']} ({record['mode']}): PSNR {m['psnr']:.2f} dB, SSIM {m['ssim']:.4f} (noisy input "
               f"{m['noisy_psnr']:.2f} dB) on {record['num_images']} images -> {out}")


@main.command()
@checkpoint_option
@grouped(_eval_data, data_option, _data_name, _samples, _max_images)
@inference_options(default_mode="single")
@out_file("Metrics JSON to write.")
@click.option("--released", default=None, metavar="NAME",
              help="Score these weights as released weights named NAME (Table 2's \"released weights\" rows).")
@threads_option
@tracking_options
@progress_option
def evaluate(checkpoint, data, inference, out, released, tracking, progress) -> None:
    """Denoise DIR/Noisy with InvDN, score against DIR/GT under every protocol, write a metrics JSON."""
    from invdn.tasks.evaluate import evaluate_invdn

    _echo(evaluate_invdn(checkpoint, data, inference, out, tracking, released, progress), out)


@main.command("evaluate-baseline")
@click.option("--method", required=True, help="Baseline name: a classical one (nlm, tv, wavelet, bm3d, bicubic_down_up) "
              "or, with --checkpoint, the trained network's (dncnn, unet, blind_spot).")
@click.option("--checkpoint", type=click.Path(path_type=Path), default=None,
              help="model.pt of a learned baseline trained by `invdn train` (model: {network: ...}).")
@grouped(_eval_data, data_option, _data_name, _samples)
@out_file("Metrics JSON to write.")
@click.option("--device", default="cpu", show_default=True, help="torch device of a learned baseline.")
@threads_option
@tracking_options
@progress_option
def evaluate_baseline(method, checkpoint, data, out, device, tracking, progress) -> None:
    """Score a baseline denoiser on DIR exactly as InvDN is scored."""
    from invdn.tasks.evaluate import evaluate_baseline as run

    try:
        record = run(method, checkpoint, data, device, out, tracking, progress)
    except ImportError as e:  # an optional package (bm3d)
        raise click.ClickException(str(e)) from None
    except ValueError as e:
        raise usage(e, "--method") from None
    _echo(record, out)
