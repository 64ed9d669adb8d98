"""Learned baselines (DnCNN, U-Net, blind-spot) trained by InvDN's own training loop.

A learned baseline's run config is InvDN's with a different ``model`` section::

    model: {network: dncnn, depth: 17, features: 64}

The same ``data`` and ``train`` sections, the same patches, augmentations, optimiser, schedule,
checkpoints, resume, NaN checks and MLflow logging as InvDN (``invdn.engine.trainer.train`` with
``task=network_task``), so the comparison differs in the network and its loss only. Paired networks
minimise the mean squared error to the clean patch; the blind-spot network sees noisy patches only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from invdn.engine import checkpoint
from invdn.config import ConfigError, RunConfig, run_config
from invdn.engine.trainer import Task

from baselines.networks import NETWORKS, count_macs, training_loss


@dataclass(frozen=True)
class NetworkConfig:
    """A baseline network by registry name (``dncnn``, ``unet``, ``blind_spot``) and its constructor options."""

    network: str
    options: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"network": self.network, **self.options}

    def build(self) -> torch.nn.Module:
        return NETWORKS.get(self.network)(**self.options)


def is_network_config(raw: dict) -> bool:
    """Whether a run config's ``model`` section names a baseline network instead of InvDN."""
    return isinstance(raw.get("model"), dict) and "network" in raw["model"]


def _model_section(values: dict, source: str) -> NetworkConfig:
    options = dict(values)
    net = NetworkConfig(str(options.pop("network")), options)
    try:
        net.build()
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{source}: model: {e}") from None
    return net


def network_run_config(raw: dict, source: str = "config") -> RunConfig:
    """A RunConfig whose model is a baseline network; data and train validated by InvDN's schema.

    Raises:
        ConfigError: a missing section, an unknown network or option, or an augmentation that
            would show a noisy-only network the clean image (``train.noise_gain_max`` > 1).
    """
    cfg = run_config(raw, source, model_section=_model_section)
    if NETWORKS.get(cfg.model.network).supervision == "noisy_only" and cfg.train.noise_gain_max != 1:
        raise ConfigError(
            f"{source}: train.noise_gain_max is {cfg.train.noise_gain_max} but {cfg.model.network} learns from "
            "noisy images only; the gain augmentation rebuilds noise from the clean image: set it to 1"
        )
    return cfg


def network_task(cfg: RunConfig) -> Task:
    """The training-loop task of a baseline network: ``networks.training_loss`` on each batch."""
    network = cfg.model.build()

    def denoiser():
        return lambda noisy, name: network(noisy)

    return Task(
        model=network,
        loss=lambda batch, gen: {"total": training_loss(network, batch["noisy"], batch["clean"])},
        denoiser=denoiser,
        arch=cfg.model.to_dict(),
        lq_scale=4,  # the LQ patches of the shared pipeline (unused by the loss)
    )


class LearnedBaseline:
    """A trained baseline network from its model file, behind the baseline interface.

    ``denoise(noisy)``: (N, 3, H, W) float in [0, 1] -> (N, 3, H, W) float, eval mode, no grad.

    Raises:
        invdn.engine.checkpoint.CheckpointError: not a model file, or one of InvDN (no ``network`` in its arch).
    """

    num_parameters: int

    def __init__(self, path: str | Path, device: str | torch.device = "cpu"):
        state = checkpoint.load(path, checkpoint.MODEL_FORMAT, map_location=device)
        arch = dict(state.get("arch") or {})
        if "network" not in arch:
            raise checkpoint.CheckpointError(
                f"{path}: an InvDN model file, not a baseline network; score it with `invdn evaluate`"
            )
        self.config = NetworkConfig(arch.pop("network"), arch)
        self.network = self.config.build()
        try:
            self.network.load_state_dict(state["model"])
        except RuntimeError as e:
            raise checkpoint.CheckpointError(f"{path}: weights do not fit {self.config.to_dict()}: {e}") from None
        self.network.to(device).eval()
        self.name = self.config.network
        self.label = self.network.label
        self.num_parameters = sum(p.numel() for p in self.network.parameters())
        self.path = Path(path)
        self.steps = state.get("step")
        self.scale = state.get("scale", "custom")  # run_info of `invdn train`

    def settings(self) -> dict:
        return {**self.config.to_dict(), "checkpoint": str(self.path), "steps": self.steps,
                "supervision": self.network.supervision, "gmac_256": count_macs(self.network, 256) / 1e9}

    @torch.no_grad()
    def denoise(self, noisy: torch.Tensor) -> torch.Tensor:
        return self.network(noisy)


class LearnedKind:
    """What invdn needs of a learned baseline (``invdn.models.registry.NETWORKS``): its run config, its
    training task and its loader; the same for every network of ``networks.NETWORKS``."""

    run_config = staticmethod(network_run_config)
    task = staticmethod(network_task)

    @staticmethod
    def load(path: str | Path, device: str | torch.device = "cpu") -> "LearnedBaseline":
        return LearnedBaseline(path, device)


LEARNED = LearnedKind()
