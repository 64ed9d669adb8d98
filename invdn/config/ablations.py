"""The paper's ablation grid as data: studies -> variants -> run configs.

A *study* is one of the paper's ablations (Table 3, Fig. 5a, Fig. 5b, Table 4), declared in the
config's ``ablations`` section; a *variant* is one trained model of it: the main ``model`` and
``train`` sections with the study's settings written over them. Variants are named by every grid
setting they have, so one that several studies share (the main architecture belongs to all four)
is trained once, and editing one value of one study creates, and trains, only the variants that
value touches. Run configs per variant and seed are ``invdn.pipeline.plan``'s (``ablation_run``); Snakemake expands
the names into jobs (workflow/rules/ablations.smk). Nothing here runs a model.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

# The settings a study may vary, and the config section each belongs to.
AXES = {
    "down_blocks": "model", "inv_blocks": "model", "transform": "model", "subnet": "model",
    "forward_loss": "train", "backward_loss": "train", "lambda_gradient": "train", "lambda_ssim": "train",
}
STUDIES = ("table3", "fig5a", "fig5b", "table4")
STUDY_TITLES = {
    "table3": "Table 3: down-scale blocks x coupling blocks",
    "fig5a": "Fig. 5a: Haar wavelet vs squeeze",
    "fig5b": "Fig. 5b: residual vs dense subnets",
    "table4": "Table 4: loss combinations",
}


class AblationError(ValueError):
    """An ablation study that cannot be expanded; the message names the study and the setting."""


@dataclass(frozen=True)
class Variant:
    """One model of the grid: ``settings`` holds every key of ``AXES`` (resolved against the main config)."""

    name: str
    settings: tuple[tuple[str, object], ...]

    def get(self, key: str):
        return dict(self.settings)[key]

    def section(self, which: str) -> dict:
        """The settings that go into config section ``which`` ("model" or "train")."""
        return {k: v for k, v in self.settings if AXES[k] == which}


def _number(value) -> str:
    return f"{value:g}"


def variant_name(settings: dict) -> str:
    """A file-name-safe name holding every grid setting, e.g. ``down2-inv8-haar-resnet-fwd_l2-bwd_charbonnier``;
    extra backward losses are appended only when on (``-grad0.1``, ``-ssim1``)."""
    name = (f"down{settings['down_blocks']}-inv{settings['inv_blocks']}-{settings['transform']}-{settings['subnet']}"
            f"-fwd_{settings['forward_loss']}-bwd_{settings['backward_loss']}")
    if settings["lambda_gradient"]:
        name += f"-grad{_number(settings['lambda_gradient'])}"
    if settings["lambda_ssim"]:
        name += f"-ssim{_number(settings['lambda_ssim'])}"
    return name


def base_settings(model: dict, train: dict) -> dict:
    """The grid settings of the main run (its model and train sections, schema defaults filled in)."""
    inv = model.get("inv_blocks", 8)
    if isinstance(inv, list):
        if len(set(inv)) != 1:
            raise AblationError(f"model.inv_blocks {inv}: the ablation grid needs one count for every scale")
        inv = inv[0]
    defaults = {"down_blocks": 2, "transform": "haar", "subnet": "resnet", "forward_loss": "l2",
                "backward_loss": "charbonnier", "lambda_gradient": 0.0, "lambda_ssim": 0.0}
    sections = {"model": model, "train": train}
    out = {k: sections[AXES[k]].get(k, defaults[k]) for k in defaults}
    out["inv_blocks"] = inv
    return out


def study_cells(study: str, spec) -> list[dict]:
    """The settings of each cell of a study: the product of its axes (a mapping of lists), or its
    listed cells (Table 4's columns)."""
    if spec is None:
        return []
    if isinstance(spec, dict):
        unknown = sorted(set(spec) - set(AXES))
        if unknown:
            raise AblationError(f"ablations.{study}: unknown setting(s) {', '.join(unknown)}; expected some of {', '.join(AXES)}")
        keys = list(spec)
        return [dict(zip(keys, values)) for values in itertools.product(*(spec[k] for k in keys))]
    cells = []
    for i, cell in enumerate(spec):
        unknown = sorted(set(cell) - set(AXES))
        if unknown:
            raise AblationError(f"ablations.{study}[{i}]: unknown setting(s) {', '.join(unknown)}")
        cells.append(dict(cell))
    return cells


def expand(ablations: dict, model: dict, train: dict) -> dict[str, list[Variant]]:
    """Every configured study -> its variants, in the order the config lists them (duplicates within
    a study dropped). ``model`` and ``train`` are the main config's sections.

    Raises:
        AblationError: a study varies an unknown setting.
    """
    base = base_settings(model, train)
    out: dict[str, list[Variant]] = {}
    for study in STUDIES:
        variants: list[Variant] = []
        for cell in study_cells(study, ablations.get(study)):
            settings = {**base, **cell}
            for key in ("lambda_gradient", "lambda_ssim"):
                settings[key] = float(settings[key])
            variant = Variant(variant_name(settings), tuple(sorted(settings.items())))
            if variant not in variants:
                variants.append(variant)
        if variants:
            out[study] = variants
    return out


def all_variants(studies: dict[str, list[Variant]]) -> list[Variant]:
    """The distinct variants of all studies (each trained once)."""
    seen: dict[str, Variant] = {}
    for variants in studies.values():
        for v in variants:
            seen.setdefault(v.name, v)
    return list(seen.values())


_LOSS_NAMES = {"l1": "L1", "l2": "L2", "charbonnier": "Charbonnier"}


def label(study: str, variant: Variant) -> str:
    """How tables and figures name a variant within its study, e.g. ``down 2, inv 8``, ``squeeze``,
    ``L2 / Charbonnier + gradient``."""
    s = dict(variant.settings)
    if study == "table3":
        return f"down {s['down_blocks']}, inv {s['inv_blocks']}"
    if study == "fig5a":
        return s["transform"]
    if study == "fig5b":
        return s["subnet"]
    text = f"{_LOSS_NAMES[s['forward_loss']]} / {_LOSS_NAMES[s['backward_loss']]}"
    if s["lambda_gradient"]:
        text += f" + {_number(s['lambda_gradient'])} gradient"
    if s["lambda_ssim"]:
        text += f" + {_number(s['lambda_ssim'])} SSIM"
    return text
