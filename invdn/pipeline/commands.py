"""The shell command of every workflow stage, built in one place.

Each rule's ``shell:`` is ``INVDN_THREADS={threads} {params.cmd} > {log} 2>&1`` with ``params.cmd``
from a function here, so every training rule starts ``invdn train`` the same way, every evaluation
rule passes the same inference settings, and a new option is added once. Threads travel in the
environment (``INVDN_THREADS``, read by the ``invdn`` command line and split over torchrun's
processes) rather than in the command, so that running with another ``--cores`` changes no rule
parameter and reruns nothing.
"""
from __future__ import annotations

import json
import shlex
from typing import Iterable, Mapping

q = shlex.quote


def mlflow_options(config: dict) -> str:
    """``--tracking-uri`` and ``--experiment`` of the config's MLflow section."""
    section = config.get("mlflow") or {}
    return (f"--tracking-uri {q(section.get('tracking_uri', 'sqlite:///results/mlflow.db'))} "
            f"--experiment {q(section.get('experiment', 'invdn-repro'))}")


def tags(rule: str, wildcards: Mapping[str, object] | None = None, code: str | None = None,
         extra: Mapping[str, str] | None = None) -> str:
    """MLflow tags of a job: its rule, its wildcards and the code version it ran."""
    out = [f"--tag snakemake_rule={q(rule)}"]
    if wildcards:
        out.append("--tag " + q("wildcards=" + ",".join(f"{k}={v}" for k, v in wildcards.items())))
    if code:
        out.append(f"--tag code_version={q(code)}")
    for key, value in (extra or {}).items():
        out.append("--tag " + q(f"{key}={value}"))
    return " ".join(out)


def _repeat(option: str, values: Iterable[str]) -> str:
    return " ".join(f"{option} {q(str(v))}" for v in values)


def launcher(processes: int) -> str:
    """``invdn`` for one process; torchrun with one process per GPU otherwise (invdn.distributed)."""
    return f"torchrun --standalone --nproc_per_node {processes} -m invdn.cli" if processes > 1 else "invdn"


def train(run: dict, out_dir: str, mlflow: str, rule: str, wildcards: Mapping[str, object], code: str,
          progress: bool = False) -> str:
    """``invdn train`` of one run config (resumes its own last checkpoint)."""
    processes = int(run["train"].get("processes", 1))
    return (f"{launcher(processes)} train --config-json {q(json.dumps(run, sort_keys=True))} --out-dir {q(out_dir)} "
            f"--resume{'' if progress else ' --no-progress'} {mlflow} {tags(rule, wildcards)} --code-version {q(code)}")


def evaluate(model: str, data: str, data_name: str, mode: str, mc_samples: int, seed: int, device: str,
             precision: str, save_samples: int, out: str, mlflow: str, rule: str, wildcards: Mapping[str, object],
             code: str, max_images: int = 0, released: str | None = None) -> str:
    """``invdn evaluate`` of InvDN weights (ours, official or Paddle) in one inference mode; ``released``
    names weights scored as released (Table 2's "released weights" rows)."""
    what = f" --released {q(released)}" if released else ""
    return (f"invdn evaluate --checkpoint {q(model)}{what} --data {q(data)} --data-name {q(data_name)} --mode {mode} "
            f"--mc-samples {mc_samples} --seed {seed} --device {q(device)} --precision {precision} "
            f"--save-samples {save_samples} --max-images {max_images} --out {q(out)} --no-progress {mlflow} "
            f"{tags(rule, wildcards, code)}")


def evaluate_baseline(method: str, model: str | None, data: str, data_name: str, device: str, save_samples: int,
                      out: str, mlflow: str, rule: str, wildcards: Mapping[str, object], code: str) -> str:
    """``invdn evaluate-baseline`` of a classical method, or a learned one with its model file."""
    checkpoint = f" --checkpoint {q(model)}" if model else ""
    return (f"invdn evaluate-baseline --method {q(method)}{checkpoint} --data {q(data)} --data-name {q(data_name)} "
            f"--save-samples {save_samples} --device {q(device)} --out {q(out)} --no-progress {mlflow} "
            f"{tags(rule, wildcards, code)}")


def profile(model: str, device: str, out: str, mlflow: str, rule: str, code: str) -> str:
    return f"invdn profile --checkpoint {q(model)} --device {q(device)} --out {q(out)} {mlflow} {tags(rule, None, code)}"


def mc_sweep(model: str, data: str, counts: Iterable[int], seed: int, device: str, out: str, mlflow: str, rule: str,
             wildcards: Mapping[str, object], code: str) -> str:
    return (f"invdn mc-sweep --checkpoint {q(model)} --data {q(data)} --counts {','.join(map(str, counts))} "
            f"--seed {seed} --device {q(device)} --out {q(out)} --no-progress {mlflow} {tags(rule, wildcards, code)}")


def akld(source: str, data: str, samples: int, seed: int, out: str, mlflow: str, rule: str,
         wildcards: Mapping[str, object], code: str, eps: float | None = None, device: str | None = None) -> str:
    """``invdn akld`` of InvDN's generator (``source`` a model file, with eps and device) or of a noise model."""
    if eps is None:
        what = f"--noise-model {q(source)}"
    else:
        what = f"--checkpoint {q(source)} --eps {eps} --device {q(device or 'cpu')}"
    return (f"invdn akld {what} --data {q(data)} --samples {samples} --seed {seed} --out {q(out)} --no-progress "
            f"{mlflow} {tags(rule, wildcards, code)}")


def generate_pairs(source: str, generator: str, data: str, out_dir: str, eps: float, seed: int, device: str) -> str:
    """``invdn generate-pairs`` from InvDN's generator (``source`` a model file) or a noise model (``source`` None)."""
    what = f"--checkpoint {q(source)}" if source else f"--noise-model {q(generator)}"
    return (f"invdn generate-pairs {what} --data {q(data)} --out {q(out_dir)} --eps {eps} --seed {seed} "
            f"--device {q(device)} --no-progress")


def pgap(real: str, generated: str, generator: str, out: str, mlflow: str, rule: str,
         wildcards: Mapping[str, object]) -> str:
    return (f"invdn pgap --real {q(real)} --generated {q(generated)} --generator {q(generator)} --out {q(out)} "
            f"{mlflow} {tags(rule, wildcards)}")


def table(kind: str, inputs: Mapping[str, Iterable[str]], out_stem: str, tracking_uri: str,
          options: Mapping[str, object] | None = None) -> str:
    """``invdn <kind>`` writing ``out_stem``.{tex,md,csv} from repeatable input options
    (``{"--metrics": [...], ...}``) and single-valued ``options``."""
    parts = [f"invdn {kind}"] + [_repeat(option, files) for option, files in inputs.items()]
    parts += [f"{k} {q(str(v))}" for k, v in (options or {}).items() if v is not None]
    parts += [f"--out {q(out_stem)}", f"--tracking-uri {q(tracking_uri)}"]
    return " ".join(p for p in parts if p)
