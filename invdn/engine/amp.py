"""Mixed precision of a training run (``train.amp``): the autocast region and the gradient scaler.

``off`` trains in float32, as the paper. ``bf16`` autocasts the forward pass and the loss to
bfloat16, on CUDA or on CPUs with AVX512-BF16/AMX (2.2x per step measured, benchmarks/suite.py);
its range is float32's, so gradients need no scaling. ``fp16`` needs CUDA and scales the loss
(``torch.amp.GradScaler``) so that small gradients do not flush to zero.
"""
from __future__ import annotations

import contextlib

import torch

from invdn.config import ConfigError

DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}
"""The autocast dtype of each ``train.amp`` setting other than ``off``."""


class Amp:
    """The precision of one run: ``autocast()`` for the forward pass, ``scaler`` for the backward pass
    and the optimizer step (a pass-through unless fp16), whose state travels in the checkpoints.

    Raises:
        ConfigError: fp16 on a device other than CUDA.
    """

    def __init__(self, setting: str, device: torch.device):
        self.dtype = DTYPES.get(setting)
        if self.dtype == torch.float16 and device.type != "cuda":
            raise ConfigError(f"train.amp fp16 needs a CUDA device (got {device}); on CPU use bf16 or off")
        self.device_type = device.type
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.dtype == torch.float16)

    def autocast(self) -> contextlib.AbstractContextManager:
        """The region of the forward pass and the loss (a float32 no-op when AMP is off)."""
        return torch.autocast(self.device_type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None)
