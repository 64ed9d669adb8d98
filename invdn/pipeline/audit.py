"""The plan audit: every planned job's effective settings beside the source of each value.

For a preset, every training job the DAG plans (:func:`invdn.pipeline.plan.training_jobs`) and the
evaluation settings are compared with the recipe the preset follows (``follows:``; the recipes and
their citations are in ``results/reference_numbers.yaml``, ``recipes``). Each setting gets a status:

* ``recipe`` - the recipe's value;
* ``axis`` - a setting the job's ablation study varies (the study's design, not a deviation);
* ``declared`` - differs from the recipe, and the preset's ``deviations`` names the config key the
  value comes from, with the reason;
* ``UNDECLARED`` - differs from the recipe and nothing says why;
* ``harness`` - the recipe states no value (logging, threads, memory saving);
* ``n/a`` - does not apply to the job (a baseline network's architecture and loss).

``invdn presets audit`` writes the report (docs/presets.md); the tests keep it current and require
no undeclared deviation in the presets that follow a published recipe.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from invdn.config import load_yaml
from invdn.pipeline import plan
from invdn.pipeline.presets import CONFIG_DIR, compose_layers, preset_names

TRAIN_SETTINGS = (
    "data.train", "model.channels", "model.down_blocks", "model.inv_blocks", "model.transform", "model.subnet", "model.clamp",
    "model.init", "train.seed", "train.iterations", "train.step_batch", "train.batch_size", "train.processes",
    "train.patch_size", "train.lr", "train.lr_milestones", "train.lr_gamma", "train.betas", "train.weight_decay",
    "train.grad_clip", "train.forward_loss", "train.backward_loss", "train.lambda_forward", "train.lambda_backward",
    "train.charbonnier_eps", "train.lambda_gradient", "train.lambda_ssim", "train.augmentation",
    "train.noise_gain_max", "train.channel_shuffle", "train.device", "train.amp", "train.memory_saving",
)
# What a learned baseline's run does not share with InvDN: its architecture and its own loss.
BASELINE_NA = tuple(s for s in TRAIN_SETTINGS if s.startswith("model.")) + (
    "train.forward_loss", "train.backward_loss", "train.lambda_forward", "train.lambda_backward",
    "train.charbonnier_eps", "train.lambda_gradient", "train.lambda_ssim")
# Fixed in the code, not configurable: what the training data pipeline always does, and how each
# subnet is initialised (invdn/data/datasets.py, invdn/models/subnets.py).
AUGMENTATION = "flips and 90-degree rotations"
INIT = {"resnet": "PyTorch default (ResBlock)", "densenet": "Xavier x 0.1, last layer zero (DenseBlock)"}


@dataclass(frozen=True)
class Setting:
    """One setting of one job: its value, the config key it comes from, the recipe's value and source."""

    name: str
    value: object
    origin: str  # the config key (or "code") the value comes from
    status: str
    recipe: object = None
    where: str = ""
    reason: str = ""


@dataclass
class JobAudit:
    label: str
    rule: str
    kind: str
    settings: list[Setting]


@dataclass
class PresetAudit:
    """The audit of one preset: its training jobs, its evaluation settings and what they add up to."""

    preset: str
    follows: str
    config: dict
    jobs: list[JobAudit]
    evaluation: list[Setting]
    evaluation_jobs: list[tuple[str, str]]  # (rule, what it scores)
    stale: list[str] = field(default_factory=list)  # declared deviations that match the recipe or nothing

    @property
    def undeclared(self) -> list[tuple[str, Setting]]:
        out = [(j.label, s) for j in self.jobs for s in j.settings if s.status == "UNDECLARED"]
        return out + [("evaluation", s) for s in self.evaluation if s.status == "UNDECLARED"]

    @property
    def declared(self) -> list[tuple[str, Setting]]:
        out = [(j.label, s) for j in self.jobs for s in j.settings if s.status == "declared"]
        return out + [("evaluation", s) for s in self.evaluation if s.status == "declared"]

    def shorter_than_schedule(self) -> list[str]:
        """Training jobs with fewer iterations than the preset's own train.iterations."""
        main = self.config["train"]["iterations"]
        return [j.label for j in self.jobs
                if next(s.value for s in j.settings if s.name == "train.iterations") < main]


# ---------------------------------------------------------------------------------------- values


def _value(run: dict, name: str):
    """The effective value of setting ``name`` in a run config."""
    section, key = name.split(".", 1)
    model, train = run["model"], run["train"]
    if section == "data":
        return run["data"][key]
    if name == "model.init":
        return INIT.get(model.get("subnet", "resnet"), "network default")
    if name == "model.inv_blocks":
        inv = model.get("inv_blocks", 8)
        return inv[0] if isinstance(inv, list) and len(set(inv)) == 1 else inv
    if name == "train.step_batch":
        return train["batch_size"] * train.get("processes", 1)
    if name == "train.augmentation":
        return AUGMENTATION
    if name == "train.device":
        return str(train.get("device", "cpu")).split(":")[0]
    return (model if section == "model" else train).get(key)


def _equal(a, b) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or a == b and type(a) is type(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0)
    return a == b


def _has(config: dict, dotted: str) -> bool:
    node = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _origin(config: dict, job: plan.TrainingJob, name: str) -> str:
    """The config key the job's value of ``name`` comes from."""
    section, key = name.split(".", 1)
    if name == "train.augmentation":
        return "code"
    if name == "model.init":  # follows the subnet
        return _origin(config, job, "model.subnet")
    keys = {"train.step_batch": ("batch_size", "processes")}.get(name, (key,))
    if job.kind == "ablation":
        if key in job.study_axes:
            return f"ablations (axis {key})"
        for k in keys:
            if section == "train" and _has(config, f"ablations.train.{k}"):
                return f"ablations.train.{k}"
    if job.kind == "baseline":
        network = job.wildcards["network"]
        for k in keys:
            if section == "train" and _has(config, f"baselines.networks.{network}.train.{k}"):
                return f"baselines.networks.{network}.train.{k}"
            if section == "train" and _has(config, f"baselines.train.{k}"):
                return f"baselines.train.{k}"
    if name == "train.seed":
        return "ablations.train.seeds" if job.kind == "ablation" and _has(config, "ablations.train.seeds") else (
            "baselines.train.seeds" if job.kind == "baseline" and _has(config, "baselines.train.seeds") else "train.seeds")
    return f"{section}.{keys[0]}"


def _status(name: str, value, origin: str, recipe: dict, deviations: dict) -> Setting:
    entry = recipe.get(name)
    if origin.startswith("ablations (axis"):
        return Setting(name, value, origin, "axis", entry and entry["value"], entry["where"] if entry else "")
    if entry is None:
        return Setting(name, value, origin, "harness", reason=deviations.get(origin, deviations.get(name, "")))
    if _equal(value, entry["value"]):
        return Setting(name, value, origin, "recipe", entry["value"], entry["where"])
    for key in (origin, name):
        if key in deviations:
            return Setting(name, value, origin, "declared", entry["value"], entry["where"], deviations[key])
    return Setting(name, value, origin, "UNDECLARED", entry["value"], entry["where"])


def _status_as(key: str, value, recipe_name: str, recipe: dict, deviations: dict) -> Setting:
    """The status of config key ``key`` against the recipe's setting ``recipe_name``."""
    s = _status(recipe_name, value, key, {recipe_name: recipe[recipe_name]} if recipe_name in recipe else {}, deviations)
    return Setting(key, s.value, key, s.status, s.recipe, s.where, s.reason)


def _released(config: dict) -> dict:
    return {k: v for k, v in ((config.get("released") or {}).get("weights") or {}).items() if v}


def recipes(root: str | Path = ".") -> dict:
    """The recipes (``recipes`` of results/reference_numbers.yaml): name -> {setting: {value, where}}."""
    ref = load_yaml(Path(root) / "results" / "reference_numbers.yaml")
    return {name: r["settings"] for name, r in ref.get("recipes", {}).items()}


# ----------------------------------------------------------------------------------------- audit


def audit_config(config: dict, recipe: dict, preset: str = "custom") -> PresetAudit:
    """Audit a composed workflow config against ``recipe`` ({setting: {value, where}}; {} for none)."""
    deviations = config.get("deviations") or {}
    jobs = []
    for job in plan.training_jobs(config):
        settings = []
        for name in TRAIN_SETTINGS:
            value = _value(job.run, name)
            if job.kind == "baseline" and name in BASELINE_NA:
                settings.append(Setting(name, value if name.startswith("train.") else "--", "--", "n/a"))
                continue
            settings.append(_status(name, value, _origin(config, job, name), recipe, deviations))
        jobs.append(JobAudit(job.label, job.rule, job.kind, settings))
    evaluation = []
    # the modes of the trained runs (evaluate) and of released weights (released), each against the recipe's
    for section, applies in (("evaluate", bool(plan.main_seeds(config))), ("released", bool(_released(config)))):
        if not applies:
            continue
        modes = list(config[section]["modes"])
        evaluation.append(_status_as(f"{section}.modes", modes, "evaluate.modes", recipe, deviations))
        if {"mc", "x8_mc"} & set(modes):
            evaluation.append(_status_as(f"{section}.mc_samples", config[section]["mc_samples"], "evaluate.mc_samples",
                                         recipe, deviations))
    ev = config["evaluate"]
    values = {"evaluate.protocol": ev.get("protocol", "canonical"), "evaluate.precision": ev["precision"],
              "evaluate.device": str(ev["device"]).split(":")[0],
              "data.val_name": config["data"].get("val_name", config["data"]["val"])}
    for name, value in values.items():
        evaluation.append(_status(name, value, name, recipe, deviations))
    # a declaration is stale when no planned value comes from its key, or every one equals the recipe
    settings = [s for j in jobs for s in j.settings] + evaluation
    used = {k for s in settings if s.status != "recipe" for k in (s.origin, s.name)}
    stale = sorted(k for k in deviations if k not in used)
    return PresetAudit(preset, config.get("follows", "none"), config, jobs, evaluation, _evaluation_jobs(config), stale)


def _evaluation_jobs(config: dict) -> list[tuple[str, str]]:
    """(rule, what it scores) of every evaluation job the config plans."""
    ev = config["evaluate"]
    out = [("evaluate", f"seed {s}, {m}") for s in plan.main_seeds(config) for m in ev["modes"]]
    main_scores_grid = "single" in ev["modes"] and not (config.get("ablations") or {}).get("val_images")
    for variant in plan.variants(config).values():
        for s in plan.ablation_seeds(config):
            if not (main_scores_grid and plan.is_main_run(config, variant, s)):
                out.append(("evaluate_ablation", f"{variant.name}, seed {s}, single"))
    out += [("evaluate_classical", m) for m in (config.get("baselines") or {}).get("classical", [])]
    for network in plan.networks(config):
        out += [("evaluate_network", f"{network}, seed {s}") for s in plan.baseline_seeds(config, network)]
    out += [("evaluate_released", f"{w}, {m}") for w in _released(config) for m in config["released"]["modes"]]
    return out


def audit_preset(name: str, root: str | Path = ".") -> PresetAudit:
    """Audit the shipped preset ``name`` (composed as Snakemake composes it) against its recipe."""
    config, _ = compose_layers(name, root=root)
    _fill_defaults(config)
    recipe = recipes(root).get(config.get("follows", "none"), {})
    return audit_config(config, recipe, name)


def _fill_defaults(config: dict) -> None:
    """Validate ``config`` and fill the schema's defaults in place, as Snakemake's
    ``validate(config, schema, set_default=True)`` does.

    Raises:
        ConfigError: the config does not match the schema (every problem listed).
    """
    from invdn.config import validate_workflow

    validate_workflow(config)


# ----------------------------------------------------------------------------------------- report


def _text(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return str(value)


def _row(cells) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def _settings_table(settings: list[Setting]) -> list[str]:
    out = [_row(["setting", "value", "from", "status", "recipe", "source / reason"]), "|---|---|---|---|---|---|"]
    for s in settings:
        note = s.reason or s.where
        recipe = "" if s.status in ("recipe", "harness", "n/a") else _text(s.recipe) if s.recipe is not None else ""
        status = f"**{s.status}**" if s.status == "UNDECLARED" else s.status
        out.append(_row([f"`{s.name}`", _text(s.value), f"`{s.origin}`", status, recipe, note]))
    return out


def report(audits: list[PresetAudit]) -> str:
    """docs/presets.md: a summary, then per preset the main run's settings, every other training job's
    differences from it, and the evaluation settings."""
    out = ["# Presets: every planned job's settings and where each value comes from", "",
           "Generated by `invdn presets audit`; do not edit (tests/test_presets.py keeps it current).", "",
           "A preset is `workflow/config/base.yaml` with `workflow/config/presets/<preset>.yaml` over it; each "
           "planned job's effective settings are compared with the recipe the preset follows (values and "
           "citations: `results/reference_numbers.yaml`, `recipes`). Status: `recipe` (the recipe's value), `axis` "
           "(varied by the job's ablation study), `declared` (a deliberate deviation the preset names, with its "
           "reason), **UNDECLARED** (differs and nothing says why), `harness` (the recipe states no value), `n/a` "
           "(does not apply: a baseline network's architecture and loss).", "",
           _row(["preset", "follows", "training jobs", "evaluation jobs", "undeclared", "declared",
                 "jobs shorter than the schedule"]), "|---|---|---|---|---|---|---|"]
    for a in audits:
        out.append(_row([a.preset, a.follows, len(a.jobs), len(a.evaluation_jobs), len(a.undeclared),
                         len(a.declared), len(a.shorter_than_schedule())]))
    for a in audits:
        out += ["", f"## {a.preset} (follows {a.follows})", ""]
        if a.stale:
            out += ["Declared deviations that no planned value uses: " + ", ".join(f"`{k}`" for k in a.stale), ""]
        if not a.jobs:
            out += ["No training job (released weights only)."]
        else:
            main = a.jobs[0]
            out += [f"### {main.label}: every setting", ""] + _settings_table(main.settings)
            base = {s.name: s for s in main.settings}
            others = a.jobs[1:]
            if others:
                out += ["", "### Other training jobs: the settings that differ from the first one", "",
                        _row(["job", "setting", "value", "from", "status", "source / reason"]), "|---|---|---|---|---|---|"]
                for job in others:
                    diffs = [s for s in job.settings if s.status != "n/a" and (
                        not _equal(s.value, base[s.name].value) or s.status != base[s.name].status)]
                    if job.kind == "baseline":
                        out.append(_row([job.label, "model, loss", "the network's own", "", "n/a", ""]))
                    elif not diffs:
                        out.append(_row([job.label, "(none)", "", "", "", ""]))
                    for s in diffs:
                        status = f"**{s.status}**" if s.status == "UNDECLARED" else s.status
                        out.append(_row([job.label, f"`{s.name}`", _text(s.value), f"`{s.origin}`", status,
                                         s.reason or s.where]))
        out += ["", "### Evaluation", ""] + _settings_table(a.evaluation)
        out += ["", f"Evaluation jobs ({len(a.evaluation_jobs)}): " + "; ".join(
            f"{rule} {what}" for rule, what in a.evaluation_jobs) + "."]
    return "\n".join(out) + "\n"


def audit_all(root: str | Path = ".", names: list[str] | None = None) -> list[PresetAudit]:
    return [audit_preset(n, root) for n in (names or preset_names(root))]


__all__ = ["CONFIG_DIR", "PresetAudit", "Setting", "audit_all", "audit_config", "audit_preset", "recipes", "report"]
