"""Typed configuration, validated once at the edge against ``schemas/config.schema.yaml``.

The same schema validates the Snakemake config (``snakemake.utils.validate``) and what the
command-line tool receives, so a key of the wrong type fails before any work starts, with the key's
path in the message. Defaults live in the schema and are filled in here.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import jsonschema
import yaml

from invdn.models import Architecture


class ConfigError(ValueError):
    """A configuration that does not match the schema; the message names the key and the source."""


@lru_cache(maxsize=None)
def schema() -> dict:
    return yaml.safe_load(resources.files("invdn.config").joinpath("config.schema.yaml").read_text())


def _with_defaults(validator_class):
    """The jsonschema recipe that fills ``default`` values while validating."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, sch):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(key, json.loads(json.dumps(sub["default"])))
        yield from validate_properties(validator, properties, instance, sch)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_Validator = _with_defaults(jsonschema.Draft202012Validator)


def validate_section(section: str, values: dict | None, source: str = "config") -> dict:
    """Validate one top-level section (``train``, ``model``, ...) and return it with defaults filled.

    Raises:
        ConfigError: naming ``section.key``, the problem and ``source`` (a file name or "config").
    """
    sub = schema()["properties"][section]
    instance = json.loads(json.dumps(values if values is not None else {}))
    errors = sorted(_Validator(sub).iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        lines = []
        for e in errors:
            key = ".".join([section] + [str(p) for p in e.absolute_path])
            lines.append(f"{key}: {e.message}")
        raise ConfigError(f"{source}: invalid configuration\n  " + "\n  ".join(lines))
    return instance


def validate_workflow(config: dict, source: str = "workflow config") -> dict:
    """Validate a whole workflow config in place, filling the schema's defaults (what Snakemake's
    ``validate(config, schema, set_default=True)`` does); returns it.

    Raises:
        ConfigError: naming every ``section.key`` that does not match, and ``source``.
    """
    errors = sorted(_Validator(schema()).iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{'.'.join(str(p) for p in e.absolute_path) or '(top level)'}: {e.message}" for e in errors]
        raise ConfigError(f"{source}: invalid configuration\n  " + "\n  ".join(lines))
    return config


@dataclass(frozen=True)
class DataConfig:
    train: str
    val: str
    val_name: str = "SIDD val (bundled 10 blocks)"


@dataclass(frozen=True)
class TrainConfig:
    iterations: int
    batch_size: int  # per process: a step's batch is processes x batch_size
    processes: int  # started by torchrun, one per GPU (invdn.engine.distributed)
    patch_size: int
    lr: float
    betas: tuple[float, float]
    weight_decay: float
    lr_milestones: tuple[int, ...]
    lr_gamma: float
    grad_clip: float
    forward_loss: str
    backward_loss: str
    lambda_forward: float
    lambda_backward: float
    charbonnier_eps: float
    lambda_gradient: float
    lambda_ssim: float
    noise_gain_max: float
    channel_shuffle: bool
    seed: int
    val_every: int
    val_images: int
    checkpoint_every: int
    keep_checkpoints: int
    nan_rollbacks: int
    nan_lr_factor: float
    log_every: int
    device: str
    amp: str
    memory_saving: bool
    threads: int
    num_workers: int

    # Settings that change speed, memory or logging, never the mathematics of the trajectory (device
    # and memory_saving change float round-off only); a checkpoint written under different values of
    # these (or a shorter ``iterations``) can be resumed.
    # nan_rollbacks / nan_lr_factor too: they act only after a NaN, so a run that stopped on one can be
    # resumed with them switched on.
    RUNTIME_ONLY = ("iterations", "val_every", "val_images", "checkpoint_every", "keep_checkpoints", "log_every", "device",
                    "memory_saving", "threads", "num_workers", "nan_rollbacks", "nan_lr_factor")

    # Keys added after checkpoints had been written, with the value that reproduces the trajectory
    # from before they existed. ``trajectory_hash`` leaves a key out while it holds that value, so
    # those checkpoints keep their hash and stay resumable; any other value is hashed as usual.
    ADDED_LATER = {"lambda_gradient": 0.0, "lambda_ssim": 0.0}


@dataclass(frozen=True)
class RunConfig:
    """What a training run needs: data, model and training sections."""

    data: DataConfig
    model: Architecture  # or a learned baseline's ``baselines.learned.NetworkConfig``
    train: TrainConfig

    def to_dict(self) -> dict:
        return {"data": asdict(self.data), "model": self.model.to_dict(), "train": _plain(asdict(self.train))}

    def trajectory_hash(self) -> str:
        """sha256 of everything that determines the weights (not the run length or devices)."""
        d = self.to_dict()
        for key in TrainConfig.RUNTIME_ONLY:
            d["train"].pop(key)
        # N processes x batch B follow the trajectory of 1 x N B up to round-off (invdn.engine.distributed), as
        # devices do: the hash sees the step's batch, so a run may resume on another number of GPUs
        # (and the hashes of 1-process runs are those from before the key existed)
        d["train"]["batch_size"] *= d["train"].pop("processes")
        for key, before in TrainConfig.ADDED_LATER.items():
            if d["train"][key] == before:
                del d["train"][key]
        d["data"].pop("val_name")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()


def _plain(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _plain(v) for k, v in d.items()}
    if isinstance(d, (list, tuple)):
        return [_plain(v) for v in d]
    return d


def _build(cls, values: dict):
    names = {f.name for f in fields(cls)}
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in names}
    return cls(**kwargs)


def run_config(raw: dict, source: str = "config", model_section: Callable[[dict, str], Any] | None = None) -> RunConfig:
    """Build a RunConfig from a mapping holding ``data``, ``model`` and ``train`` sections.

    ``model_section(values, source)`` parses the model section when it is not InvDN's (the learned
    baselines pass theirs); by default it is validated by the schema as an InvDN ``Architecture``.
    """
    missing = [s for s in ("data", "model", "train") if s not in raw]
    if missing:
        raise ConfigError(f"{source}: missing section(s) {', '.join(missing)}")
    data = validate_section("data", raw["data"], source)
    train = validate_section("train", raw["train"], source)
    if model_section is not None:
        return RunConfig(_build(DataConfig, data), model_section(raw["model"], source), _build(TrainConfig, train))
    model = validate_section("model", raw["model"], source)
    if train["patch_size"] % 2 ** model["down_blocks"]:
        raise ConfigError(
            f"{source}: train.patch_size {train['patch_size']} must be divisible by 2**model.down_blocks"
        )
    return RunConfig(_build(DataConfig, data), Architecture.from_dict(model), _build(TrainConfig, train))


def load_yaml(path: str | Path) -> dict:
    """Read a YAML config file, with the file name in any error."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e}); save the config as UTF-8") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    return raw


def config_hash(values: dict) -> str:
    """Short stable hash of a configuration mapping (logged as the MLflow tag ``config_hash``)."""
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:12]
