"""Presets: small overrides of one base config (workflow/config/base.yaml).

A workflow config is composed as Snakemake composes it (the Snakefile's two ``configfile:``
directives): the base, then ``presets/<preset>.yaml`` for the preset the command line names (or the
base's default, ``smoke``), then the command line's own config over both. Mappings merge key by key,
anything else is replaced (``snakemake.utils.update_config``); a null removes a study, a network or a
dataset. :func:`compose` does the same in Python for the audit and the tests.
"""
from __future__ import annotations

import copy
from pathlib import Path

from invdn.config import ConfigError, load_yaml

CONFIG_DIR = Path("workflow") / "config"


def merge(base: dict, override: dict) -> dict:
    """``override`` over a deep copy of ``base``: mappings merged recursively, other values replaced
    (the semantics of ``snakemake.utils.update_config``)."""
    out = copy.deepcopy(base) if isinstance(base, dict) else {}
    for key, value in override.items():
        if isinstance(value, dict):
            out[key] = merge(out.get(key, {}), value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def preset_names(root: str | Path = ".") -> list[str]:
    """The presets shipped in ``<root>/workflow/config/presets``, sorted."""
    return sorted(p.stem for p in (Path(root) / CONFIG_DIR / "presets").glob("*.yaml"))


def preset_path(name: str, root: str | Path = ".") -> Path:
    """The file of preset ``name``.

    Raises:
        ConfigError: no such preset (the message lists the ones there are).
    """
    path = Path(root) / CONFIG_DIR / "presets" / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"preset {name!r}: {path} not found; presets: {', '.join(preset_names(root))}")
    return path


def compose_layers(preset: str | None = None, overrides: dict | None = None,
                   root: str | Path = ".") -> tuple[dict, list[tuple[str, dict]]]:
    """:func:`compose`, and the layers it merged: [(name, mapping)] from the base to the command line."""
    root = Path(root)
    base = load_yaml(root / CONFIG_DIR / "base.yaml")
    overrides = dict(overrides or {})
    if preset is not None:
        overrides["preset"] = preset
    name = merge(base, overrides)["preset"]
    path = preset_path(name, root)
    layer = load_yaml(path)
    if layer.get("preset", name) != name:
        raise ConfigError(f"{path}: names preset {layer['preset']!r}; a preset file must name itself ({name!r})")
    layers = [("base.yaml", base), (f"presets/{name}.yaml", layer)] + ([("command line", overrides)] if overrides else [])
    config: dict = {}
    for _, mapping in layers:
        config = merge(config, mapping)
    return config, layers


def compose(preset: str | None = None, overrides: dict | None = None, root: str | Path = ".") -> dict:
    """The workflow config Snakemake plans for ``preset`` and the command line's ``overrides``.

    ``preset`` None takes ``overrides["preset"]``, else the base's default. The result names its
    preset in ``preset``; a preset file that names another preset than its file name is an error.

    Raises:
        ConfigError: an unknown preset, an unreadable file, or a preset file naming another preset.
    """
    return compose_layers(preset, overrides, root)[0]
