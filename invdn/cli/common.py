"""The ``invdn`` group, its error handling, and the options every command group shares.

Options mean one thing in every command:

* ``--out FILE``: the one file a command writes (a metrics or record JSON, a manifest, a model file);
* ``--out-dir DIR``: a folder a command fills (a training run, images, submissions, prepared data, figures);
* ``--out-stem STEM``: a path without suffix for one result in several formats (tables: .tex, .md,
  .csv; training curves: .png, .pdf, .csv);
* ``--checkpoint PATH``: weights in any format the one loader reads (``invdn.models.load_model``);
* ``--data DIR``: a folder of Noisy/ and GT/ pairs (or a SIDD ``...NoisyBlocksSrgb.mat``);
* ``--mc-samples N``: z draws of the MC self-ensemble, 16 everywhere (paper §4.5); ``--mode`` defaults to
  ``single`` where a number is measured (evaluate: Table 2 is "without MC-ensemble") and to ``mc`` where
  images are produced (denoise, submit, as the paper and PaddleGAN's predictor do);
* ``--threads N``: CPU threads, also from ``INVDN_THREADS`` (what the workflow sets);
* ``--tracking-uri``, ``--experiment``, ``--tag KEY=VALUE``: where a command records its run.
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from invdn import __version__

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 110}
MODES = ["single", "mc", "x8", "x8_mc"]  # the values of inference.modes.Mode (tests check); kept here for a fast --help
PROTOCOLS = ["canonical", "float", "y", "crop4", "y_crop4"]  # invdn.metrics.PROTOCOLS (tests check)
ANY_WEIGHTS = ("model.pt, a training checkpoint, or official .pth / Paddle .pdparams weights "
               "(their architecture is read off the file).")


def _known_errors() -> tuple[type[BaseException], ...]:
    from invdn.config import ConfigError
    from invdn.data import DataLayoutError, ImageError
    from invdn.data.archive import ArchiveError
    from invdn.engine.checkpoint import CheckpointError
    from invdn.engine.trainer import NonFiniteLossError
    from invdn.reporting.figures import FigureError
    from invdn.reporting.runs import CompareError
    from invdn.reporting.tracked import TableError
    from invdn.submission.files import SubmissionError
    from invdn.tasks.registry import RegistryError
    from invdn.tracking.relocate import RelocateError

    return (ConfigError, DataLayoutError, ImageError, CheckpointError, NonFiniteLossError, TableError, SubmissionError,
            ArchiveError, FigureError, CompareError, RegistryError,
            RelocateError)


class InvdnGroup(click.Group):
    """Known errors print one clear message (no traceback) and exit 1; signals exit 128+N."""

    def invoke(self, ctx):
        from invdn.tracking import Terminated

        try:
            return super().invoke(ctx)
        except _known_errors() as e:
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


@click.group(cls=InvdnGroup, context_settings=CONTEXT)
@click.version_option(__version__)
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def main(verbose: bool) -> None:
    """invdn-repro: train, evaluate and tabulate the Invertible Denoising Network (CVPR 2021)."""
    import logging

    from invdn.inference.runtime import tune_allocator

    tune_allocator()  # freed tensors reused without page faults (1.4x per CPU denoise); INVDN_MALLOC=default skips
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not verbose:  # a warning of the tool is one line, without the source line it was raised at
        import warnings

        warnings.showwarning = lambda message, *_, **__: click.echo(f"warning: {message}", err=True)


def usage(error: Exception, option: str | None = None) -> click.ClickException:
    """A ValueError of a task as a one-line usage error naming the option."""
    return click.BadParameter(str(error), param_hint=option) if option else click.UsageError(str(error))


# ------------------------------------------------------------------------------------------ options

def _set_threads(ctx, param, value):
    if value:
        from invdn.inference.runtime import set_threads

        set_threads(value)
    return value


threads_option = click.option(
    "--threads", type=click.IntRange(min=1), default=None, envvar="INVDN_THREADS", show_envvar=True,
    callback=_set_threads, expose_value=False, help="CPU threads [default: torch's choice].")
progress_option = click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
checkpoint_option = click.option("--checkpoint", required=True, type=click.Path(path_type=Path), help=ANY_WEIGHTS)
data_option = click.option(
    "--data", required=True, type=click.Path(path_type=Path),
    help="Folder with Noisy/ and GT/ PNG pairs, or a SIDD ...NoisyBlocksSrgb.mat (its ...GtBlocksSrgb.mat beside it).")


def out_file(help: str, required: bool = True):
    return click.option("--out", required=required, default=None, type=click.Path(dir_okay=False, path_type=Path),
                        help=help)


def out_dir(help: str):
    return click.option("--out-dir", required=True, type=click.Path(file_okay=False, path_type=Path), help=help)


def out_stem(help: str = "Path without suffix: writes .tex, .md and .csv."):
    return click.option("--out-stem", required=True, type=click.Path(dir_okay=False, path_type=Path), help=help)


def tracking_options(f):
    """--tracking-uri, --experiment, --tag KEY=VALUE -> ``tracking: TrackingConfig``."""

    @functools.wraps(f)
    def run(*args, tracking_uri, experiment, tags, **kwargs):
        from invdn.tasks.common import TrackingConfig

        pairs = {}
        for item in tags:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--tag")
            pairs[key] = value
        return f(*args, tracking=TrackingConfig(tracking_uri, experiment, pairs), **kwargs)

    for option in reversed([
        click.option("--tracking-uri", default=None,
                     help="MLflow store [env MLFLOW_TRACKING_URI, else sqlite:///results/mlflow.db]."),
        click.option("--experiment", default="invdn-repro", show_default=True, help="MLflow experiment."),
        click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="MLflow tag (repeatable)."),
    ]):
        run = option(run)
    return run


def inference_options(default_mode: str = "single", modes: bool = True, precision: bool = True, eps: bool = False):
    """--mode, --mc-samples, --seed, --device (and --precision, --eps) -> ``inference: InferenceConfig``."""

    def decorate(f):
        @functools.wraps(f)
        def run(*args, **kwargs):
            from invdn.inference.config import PAPER_EPS, InferenceConfig
            from invdn.inference.modes import Mode
            from invdn.inference.runtime import resolve_device

            given = {name: kwargs.pop(name) for name in names}
            device = given.get("device", "cpu")
            try:
                resolve_device(device)
            except ValueError as e:
                raise click.BadParameter(str(e), param_hint="--device") from None
            explicit = click.get_current_context().get_parameter_source("mc_samples")
            mode = given.get("mode", default_mode)
            if modes and explicit == click.core.ParameterSource.COMMANDLINE and not Mode(mode).sampled \
                    and given["mc_samples"] != 1:
                raise click.UsageError(f"--mc-samples {given['mc_samples']} has no effect with --mode {mode} "
                                       "(one z draw); add --mode mc or --mode x8_mc")
            settings = InferenceConfig(mode, given.get("mc_samples", 16),
                                       given.get("seed", 0), device, given.get("precision", "float32"),
                                       given.get("eps", PAPER_EPS))
            return f(*args, inference=settings, **kwargs)

        options = []
        if modes:
            options.append(click.option("--mode", type=click.Choice(MODES), default=default_mode, show_default=True,
                                        help="single: one z draw; mc: the MC self-ensemble (§4.5); x8: the 8 "
                                             "flips/transposes; x8_mc: both."))
            options.append(click.option("--mc-samples", type=click.IntRange(min=1), default=16, show_default=True,
                                        help="z draws of mc and x8_mc (paper §4.5: 16)."))
        options += [click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
                                 help="Seed of the per-image z generators."),
                    click.option("--device", default="cpu", show_default=True, help="torch device: cpu, cuda, cuda:N.")]
        if precision:
            options.append(click.option("--precision", type=click.Choice(["float32", "bf16"]), default="float32",
                                        show_default=True, help="bf16: autocast (2-3x faster where supported)."))
        if eps:
            options.append(click.option("--eps", type=click.FloatRange(min=0), default=2e-4, show_default=True,
                                        help="Perturbation of z in noise generation (paper §4.6)."))
        names = (["mode", "mc_samples"] if modes else []) + ["seed", "device"] + (["precision"] if precision else []) \
            + (["eps"] if eps else [])
        for option in reversed(options):
            run = option(run)
        return run

    return decorate


def grouped(build, *options):
    """A decorator adding ``options`` whose values become one parameter of the command:
    ``build(**values)`` returns (its name, its value)."""
    probe = lambda: None  # noqa: E731
    for option in options:
        probe = option(probe)
    names = [p.name for p in probe.__click_params__]

    def decorate(f):
        @functools.wraps(f)
        def run(*args, **kwargs):
            name, value = build(**{n: kwargs.pop(n) for n in names})
            return f(*args, **{name: value}, **kwargs)

        for option in reversed(options):
            run = option(run)
        return run

    return decorate


def labelled(items: tuple[str, ...], option: str) -> dict[str, Path]:
    """LABEL=PATH items -> {label: path}; BadParameter on a malformed item or a repeated label."""
    out: dict[str, Path] = {}
    for item in items:
        label, sep, path = item.partition("=")
        if not sep or not label or not path:
            raise click.BadParameter(f"expected LABEL=PATH, got {item!r}", param_hint=option)
        if label in out:
            raise click.BadParameter(f"label {label!r} given twice", param_hint=option)
        out[label] = Path(path)
    return out
