"""What a composed workflow config plans: every training run (per seed), its run config, and the
paths of everything the DAG writes.

The rules (workflow/rules/*.smk) take their paths and run configs from here and the audit
(:mod:`invdn.pipeline.audit`) reads the same functions, so what the audit reports is what runs.

Seeds: ``train.seeds`` lists the seeds of the main InvDN run; ``ablations.train.seeds`` and
``baselines.train.seeds`` (or a network's own ``train.seeds``) narrow or widen them for the grid and
the learned baselines. Each run is trained once per seed; the seed becomes the run config's
``train.seed`` (initialisation, patches, z draws).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from invdn.config.ablations import STUDY_TITLES, Variant, all_variants, base_settings, expand as expand_studies
from invdn.config.ablations import label as variant_label

# Paths of the DAG's files, relative to the working directory, with Snakemake wildcards in braces.
# {name} is the config's name (filled by Paths); the others are wildcards of the rules.
TEMPLATES = {
    "mlflow_marker": "results/mlflow/initialized.json",
    "train_manifest": "results/{name}/data/train/manifest.json",
    "val_manifest": "results/{name}/data/val/manifest.json",
    "model": "results/{name}/train/invdn/seed{seed}/model.pt",
    "eval": "results/{name}/eval/invdn/seed{seed}/{mode}.json",
    "profile": "results/{name}/profile/profile.json",
    "registered": "results/{name}/registry/registered_model.json",
    "analysis": "results/{name}/analysis/seed{seed}",
    "noise_model_akld": "results/{name}/analysis/noise_models/{noise_model}/akld.json",
    "baseline_model": "results/{name}/train/baselines/{network}/seed{seed}/model.pt",
    "classical_eval": "results/{name}/eval/baselines/{method}.json",
    "network_eval": "results/{name}/eval/baselines/{network}/seed{seed}.json",
    "ablation_model": "results/{name}/train/ablations/{variant}/seed{seed}/model.pt",
    "ablation_eval": "results/{name}/eval/ablations/{variant}/seed{seed}/single.json",
    "released_eval": "results/{name}/eval/released/{weights}/{mode}.json",
    "pgap": "results/{name}/pgap/seed{seed}/{generator}",
    "figures": "results/{name}/figures",
    "tables": "results/{name}/tables",
    "submission": "results/{name}/submission",
    "logs": "logs/{name}",
    "benchmarks": "results/{name}/benchmarks",
}


class Paths:
    """The templates with the config's name filled in; other wildcards stay for Snakemake."""

    def __init__(self, name: str):
        self.name = name
        for key, template in TEMPLATES.items():
            setattr(self, key, template.replace("{name}", name))

    def log(self, path: str) -> str:
        """The log file that mirrors ``path`` (an output under results/<name>/) under logs/<name>/."""
        return f"{self.logs}/{self._stem(path)}.log"

    def benchmark(self, path: str) -> str:
        """The Snakemake benchmark TSV of the job writing ``path``, mirrored under results/<name>/benchmarks/."""
        return f"{self.benchmarks}/{self._stem(path)}.tsv"

    def _stem(self, path: str) -> str:
        prefix = f"results/{self.name}/"
        rel = path[len(prefix):] if path.startswith(prefix) else path.removeprefix("results/")
        return rel.rsplit('.', 1)[0] if '.' in rel.rsplit('/', 1)[-1] else rel


# ---------------------------------------------------------------------------------------------- seeds


def main_seeds(config: dict) -> list[int]:
    """Seeds of the main InvDN run (``train.seeds``); empty: no main run (e.g. released weights only)."""
    return list(config["train"].get("seeds", [0]))


def ablation_seeds(config: dict) -> list[int]:
    """Seeds of every grid variant: ``ablations.train.seeds``, else the main run's."""
    return list((config.get("ablations") or {}).get("train", {}).get("seeds", main_seeds(config)))


def baseline_seeds(config: dict, network: str) -> list[int]:
    """Seeds of a learned baseline: its own ``train.seeds``, else ``baselines.train.seeds``, else the main run's."""
    return list(baseline_train_section(config, network).get("seeds", main_seeds(config)))


# ------------------------------------------------------------------------------------- run configs


def _train(section: dict, seed: int) -> dict:
    """A workflow train section as one run's: ``seeds`` replaced by the run's ``seed``."""
    out = {k: v for k, v in section.items() if k not in ("seeds", "seed")}
    out["seed"] = int(seed)
    return out


def invdn_run(config: dict, seed: int) -> dict:
    """What ``invdn train`` receives for the main run of ``seed``: only the sections that shape the
    model, so an evaluation setting never retrains."""
    return {"name": config["name"], "scale": config["scale"], "data": config["data"], "model": config["model"],
            "train": _train(config["train"], seed)}


def grid_train(config: dict) -> dict:
    """The train section every grid variant starts from: the main one with ``ablations.train`` over it."""
    return {**config["train"], **(config.get("ablations") or {}).get("train", {})}


def studies(config: dict) -> dict[str, list[Variant]]:
    """The configured ablation studies -> their variants (:func:`invdn.config.ablations.expand`), each study's
    settings over the grid's base (the main model and :func:`grid_train`)."""
    return expand_studies(config.get("ablations") or {}, config["model"], grid_train(config))


def variants(config: dict) -> dict[str, Variant]:
    """Every distinct grid variant by name."""
    return {v.name: v for v in all_variants(studies(config))}


def ablation_run(config: dict, variant: Variant, seed: int) -> dict:
    """What ``invdn train`` receives for a grid variant: the main sections with ``ablations.train``
    and the variant's settings over them."""
    model = {**config["model"], **variant.section("model")}
    train = {**grid_train(config), **variant.section("train")}
    return {"name": f"{config['name']}-{variant.name}", "scale": config["scale"], "data": config["data"],
            "model": model, "train": _train(train, seed)}


def is_main_run(config: dict, variant: Variant, seed: int) -> bool:
    """True when the variant of ``seed`` trains exactly the main run of ``seed``, so the main model
    stands in for it instead of a second, identical training."""
    if seed not in main_seeds(config):
        return False
    mine, main = ablation_run(config, variant, seed), invdn_run(config, seed)
    return mine["model"] == main["model"] and mine["train"] == main["train"]


def main_variant(config: dict) -> str:
    """The grid name of the main architecture with the grid's losses (the variant differences are taken against)."""
    from invdn.config.ablations import variant_name

    return variant_name(base_settings(config["model"], grid_train(config)))


def networks(config: dict) -> dict[str, dict]:
    """The learned baselines by name (a network set to null is dropped)."""
    return {k: v for k, v in ((config.get("baselines") or {}).get("networks") or {}).items() if v is not None}


def baseline_train_section(config: dict, network: str) -> dict:
    """``baselines.train`` with the network's own ``train`` over it."""
    own = dict(networks(config)[network].get("train") or {})
    return {**((config.get("baselines") or {}).get("train") or {}), **own}


def baseline_run(config: dict, network: str, seed: int) -> dict:
    """What ``invdn train`` receives for a learned baseline: InvDN's data and train sections (with the
    baselines' overrides) and the network as the model section."""
    spec = {k: v for k, v in networks(config)[network].items() if k != "train"}
    train = {**config["train"], **baseline_train_section(config, network)}
    if spec["network"] == "blind_spot":  # noisy images only: no augmentation that uses the clean image
        train["noise_gain_max"] = 1.0
    return {"name": f"{config['name']}-{network}", "scale": config["scale"], "data": config["data"],
            "model": spec, "train": _train(train, seed)}


def pgap_run(config: dict, generator: str, seed: int, train_dir: str) -> dict:
    """The main run of ``seed`` trained on the pairs ``generator`` made (PGap)."""
    run = json.loads(json.dumps(invdn_run(config, seed)))
    run["name"] = f"{config['name']}-pgap-{generator}"
    run["data"]["train"] = train_dir
    return run


def processes(run: dict) -> int:
    """train.processes of a run config (torchrun processes, one per GPU)."""
    return int(run["train"].get("processes", 1))


# ----------------------------------------------------------------------------------- the whole plan


@dataclass(frozen=True)
class TrainingJob:
    """One planned training: which rule, its wildcards, the run config it receives, and for grid
    variants the settings the study varies."""

    rule: str
    wildcards: dict
    run: dict
    kind: str  # "invdn", "ablation", "baseline"
    study_axes: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        parts = [f"{k}={v}" for k, v in self.wildcards.items()]
        return f"{self.rule}[{', '.join(parts)}]"


def training_jobs(config: dict) -> list[TrainingJob]:
    """Every training job the config plans (``all`` target), in a stable order: main runs, grid
    variants (the ones the main run does not stand in for), learned baselines."""
    jobs = [TrainingJob("train", {"seed": s}, invdn_run(config, s), "invdn") for s in main_seeds(config)]
    for variant in variants(config).values():
        for seed in ablation_seeds(config):
            if not is_main_run(config, variant, seed):
                jobs.append(TrainingJob("train_ablation", {"variant": variant.name, "seed": seed},
                                        ablation_run(config, variant, seed), "ablation", _varied(config, variant)))
    for network in networks(config):
        for seed in baseline_seeds(config, network):
            jobs.append(TrainingJob("train_baseline", {"network": network, "seed": seed},
                                    baseline_run(config, network, seed), "baseline"))
    return jobs


def variants_base_settings(config: dict) -> dict:
    return base_settings(config["model"], grid_train(config))


def _varied(config: dict, variant: Variant) -> tuple[str, ...]:
    """The grid settings a variant sets differently from the main run (its study's axes)."""
    base = variants_base_settings(config)
    return tuple(sorted(k for k, v in variant.settings if base.get(k) != v))


def study_label(study: str, variant: Variant) -> str:
    return variant_label(study, variant)
