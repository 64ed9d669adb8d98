"""The shell command of every workflow stage, built in one place.

Each rule's ``shell:`` is ``INVDN_THREADS={threads} {params.cmd} > {log} 2>&1`` (or without threads)
with ``params.cmd`` from a function here, so every training rule starts ``invdn train`` the same
way, every evaluation passes the same inference settings (one ``InferenceConfig``), and a new option
is added once. Threads travel in the environment (``INVDN_THREADS``, read by the ``invdn`` command
line and split over torchrun's processes) rather than in the command, so that running with another
``--cores`` changes no rule parameter and reruns nothing.
"""
from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from invdn.inference.config import InferenceConfig

q = shlex.quote


@dataclass(frozen=True)
class Job:
    """How a job's command records itself: the MLflow options (``mlflow_options``), its rule, its
    wildcards and the code version it runs (tags of its MLflow run)."""

    mlflow: str
    rule: str
    wildcards: Mapping[str, object] = field(default_factory=dict)
    code: str | None = None

    def options(self, code_as_tag: bool = True) -> str:
        out = [self.mlflow, f"--tag snakemake_rule={q(self.rule)}"]
        if self.wildcards:
            out.append("--tag " + q("wildcards=" + ",".join(f"{k}={v}" for k, v in self.wildcards.items())))
        if self.code and code_as_tag:
            out.append(f"--tag code_version={q(self.code)}")
        return " ".join(out)


def mlflow_options(config: dict) -> str:
    """``--tracking-uri`` and ``--experiment`` of the config's MLflow section."""
    section = config.get("mlflow") or {}
    return (f"--tracking-uri {q(section.get('tracking_uri', 'sqlite:///results/mlflow.db'))} "
            f"--experiment {q(section.get('experiment', 'invdn-repro'))}")


def _inference(inference: InferenceConfig, modes: bool = True, precision: bool = True, eps: bool = False) -> str:
    out = []
    if modes:  # --mc-samples only where it counts: the CLI refuses it beside a one-draw mode
        out.append(f"--mode {inference.mode.value}"
                   + (f" --mc-samples {inference.mc_samples}" if inference.mode.sampled else ""))
    out.append(f"--seed {inference.seed} --device {q(inference.device)}")
    if precision:
        out.append(f"--precision {inference.precision}")
    if eps:
        out.append(f"--eps {inference.eps}")
    return " ".join(out)


def launcher(processes: int) -> str:
    """``invdn`` for one process; torchrun with one process per GPU otherwise (invdn.engine.distributed)."""
    return f"torchrun --standalone --nproc_per_node {processes} -m invdn.cli" if processes > 1 else "invdn"


def mlflow_init(job: Job, out: str) -> str:
    return f"invdn mlflow-init {job.mlflow} --out {q(out)}"


def register_model(metrics: Iterable[str], model_name: str, alias: str, out: str, job: Job) -> str:
    """``invdn runs register``: the best of the main seeds' evaluations into the Model Registry under ``alias``."""
    given = " ".join(f"--metrics {q(m)}" for m in metrics)
    return (f"invdn runs register {given} --name {q(model_name)} --alias {q(alias)} --out {q(out)} "
            f"{job.options(code_as_tag=False)}")


def validate_data(root: str, out: str, lq_scale: int | None = None) -> str:
    lq = f" --lq-scale {lq_scale}" if lq_scale else ""
    return f"invdn validate-data --data {q(root)}{lq} --out {q(out)}"


def train(run: dict, out_dir: str, job: Job) -> str:
    """``invdn train`` of one run config (resumes its own last checkpoint)."""
    processes = int(run["train"].get("processes", 1))
    return (f"{launcher(processes)} train --config-json {q(json.dumps(run, sort_keys=True))} --out-dir {q(out_dir)} "
            f"--resume --no-progress {job.options(code_as_tag=False)} --code-version {q(job.code or '')}")


def evaluate(model: str, data: str, data_name: str, inference: InferenceConfig, out: str, job: Job,
             save_samples: int = 0, max_images: int = 0, released: str | None = None) -> str:
    """``invdn evaluate`` of InvDN weights (ours, official or Paddle); ``released`` names weights scored
    as released (Table 2's "released weights" rows)."""
    what = f" --released {q(released)}" if released else ""
    return (f"invdn evaluate --checkpoint {q(model)}{what} --data {q(data)} --data-name {q(data_name)} "
            f"{_inference(inference)} --save-samples {save_samples} --max-images {max_images} --out {q(out)} "
            f"--no-progress {job.options()}")


def evaluate_baseline(method: str, model: str | None, data: str, data_name: str, device: str, out: str, job: Job,
                      save_samples: int = 0) -> str:
    """``invdn evaluate-baseline`` of a classical method, or a learned one with its model file."""
    checkpoint = f" --checkpoint {q(model)}" if model else ""
    return (f"invdn evaluate-baseline --method {q(method)}{checkpoint} --data {q(data)} --data-name {q(data_name)} "
            f"--save-samples {save_samples} --device {q(device)} --out {q(out)} --no-progress {job.options()}")


def profile(model: str, device: str, out: str, job: Job) -> str:
    return f"invdn profile --checkpoint {q(model)} --device {q(device)} --out {q(out)} {job.options()}"


def mc_sweep(model: str, data: str, counts: Iterable[int], inference: InferenceConfig, out: str, job: Job) -> str:
    return (f"invdn mc-sweep --checkpoint {q(model)} --data {q(data)} --counts {','.join(map(str, counts))} "
            f"{_inference(inference, modes=False, precision=False)} --out {q(out)} --no-progress {job.options()}")


def akld(source: str, data: str, samples: int, inference: InferenceConfig, out: str, job: Job,
         noise_model: bool = False) -> str:
    """``invdn akld`` of InvDN's generator (``source`` a model file) or of a noise model (``source`` its name)."""
    what = f"--noise-model {q(source)}" if noise_model else f"--checkpoint {q(source)}"
    return (f"invdn akld {what} --data {q(data)} --samples {samples} "
            f"{_inference(inference, modes=False, precision=False, eps=not noise_model)} --out {q(out)} "
            f"--no-progress {job.options()}")


def generate_pairs(source: str | None, generator: str, data: str, out_dir: str, inference: InferenceConfig) -> str:
    """``invdn generate-pairs`` from InvDN's generator (``source`` a model file) or a noise model (``source`` None)."""
    what = f"--checkpoint {q(source)}" if source else f"--noise-model {q(generator)}"
    return (f"invdn generate-pairs {what} --data {q(data)} --out-dir {q(out_dir)} "
            f"{_inference(inference, modes=False, precision=False, eps=True)} --no-progress")


def pgap(real: str, generated: str, generator: str, out: str, job: Job) -> str:
    return (f"invdn pgap --real {q(real)} --generated {q(generated)} --generator {q(generator)} --out {q(out)} "
            f"{job.options()}")


def table(kind: str, inputs: Mapping[str, Iterable[str]], out_stem: str, tracking_uri: str | None,
          options: Mapping[str, object] | None = None) -> str:
    """``invdn table <kind>`` writing ``out_stem``.{tex,md,csv} from repeatable input options
    (``{"--metrics": [...], ...}``) and single-valued ``options``."""
    parts = [f"invdn table {kind}"] + [" ".join(f"{option} {q(str(f))}" for f in files)
                                       for option, files in inputs.items()]
    parts += [f"{k} {q(str(v))}" for k, v in (options or {}).items() if v is not None]
    parts.append(f"--out-stem {q(out_stem)}")
    if tracking_uri is not None:
        parts.append(f"--tracking-uri {q(tracking_uri)}")
    return " ".join(p for p in parts if p)


def figure_curves(models: Mapping[str, str], title: str, out_stem: str, tracking_uri: str) -> str:
    """``invdn figure curves`` of labelled model files (Fig. 5)."""
    labelled = " ".join(f"--model {q(f'{label}={path}')}" for label, path in models.items())
    return (f"invdn figure curves {labelled} --title {q(title)} --out-stem {q(out_stem)} "
            f"--tracking-uri {q(tracking_uri)}")


def figure_latent(model: str, data: str, image: str, inference: InferenceConfig, out_dir: str) -> str:
    return (f"invdn figure latent --checkpoint {q(model)} --data {q(data)} --image {q(str(image))} "
            f"{_inference(inference, modes=False, precision=False, eps=True)} --out-dir {q(out_dir)}")


def figure_gallery(model: str, data: str, images: int, inference: InferenceConfig, out_dir: str) -> str:
    return (f"invdn figure gallery --checkpoint {q(model)} --data {q(data)} --images {images} "
            f"--mc-samples {inference.mc_samples} {_inference(inference, modes=False, precision=False, eps=True)} "
            f"--out-dir {q(out_dir)}")


def prepare_sidd_medium(root: str, out_dir: str, patch: int, per_image: int, stride: int | None, seed: int) -> str:
    grid = f" --stride {stride}" if stride else ""
    return (f"invdn prepare sidd-medium --root {q(root)} --out-dir {q(out_dir)} --patch {patch} "
            f"--per-image {per_image}{grid} --seed {seed} --no-progress")


def prepare_sidd_val(noisy: str, gt: str, out_dir: str) -> str:
    return f"invdn prepare sidd-val --noisy {q(noisy)} --gt {q(gt)} --out-dir {q(out_dir)}"


def submit_sidd(model: str, bench: str, grid: Iterable[int], inference: InferenceConfig, out_dir: str) -> str:
    return (f"invdn submit sidd --bench {q(bench)} --grid {','.join(map(str, grid))} --checkpoint {q(model)} "
            f"{_inference(inference, precision=False)} --out-dir {q(out_dir)} --no-progress")


def submit_dnd(model: str, root: str, images: int, inference: InferenceConfig, out_dir: str) -> str:
    return (f"invdn submit dnd --root {q(root)} --images {images} --checkpoint {q(model)} "
            f"{_inference(inference, precision=False)} --out-dir {q(out_dir)} --no-progress")
