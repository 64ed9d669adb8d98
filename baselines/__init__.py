"""Baseline denoisers behind one interface, scored by the same evaluation code as InvDN.

A baseline is a class with ``name``, ``label`` (for tables), ``num_parameters`` (0 for classical
methods), ``settings()`` (logged to MLflow) and ``denoise(noisy)``: (N, 3, H, W) float in [0, 1] ->
the same shape, float (clamped by the protocol). Registered explicitly below.
"""
from invdn.models.registry import Registry

from .resize import BicubicDownUp

BASELINES: Registry = Registry("baseline")
BASELINES.register(BicubicDownUp.name, BicubicDownUp)

__all__ = ["BASELINES", "BicubicDownUp"]
