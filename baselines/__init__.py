"""Baselines run by the harness, each family in its own module, all scored by InvDN's evaluation code.

- Denoisers behind one interface: ``name``, ``label`` (for tables), ``num_parameters`` (0 for
  classical methods), ``settings()`` (logged to MLflow) and ``denoise(noisy)``: (N, 3, H, W) float in
  [0, 1] -> the same shape, float (clamped by the protocol). Classical ones are registered in
  ``BASELINES`` below; learned ones (``networks.NETWORKS``) are trained by ``invdn train`` and loaded
  from their model file by ``learned.LearnedBaseline``.
- Noise models (``noise_models.NOISE_MODELS``): generators of noisy images for AKLD and PGap.
"""
from invdn.models.registry import Registry

from .classical import BM3D, NonLocalMeans, TotalVariation, Wavelet
from .resize import BicubicDownUp

BASELINES: Registry = Registry("baseline")
for _cls in (BicubicDownUp, NonLocalMeans, TotalVariation, Wavelet, BM3D):
    BASELINES.register(_cls.name, _cls)

__all__ = ["BASELINES", "BicubicDownUp", "NonLocalMeans", "TotalVariation", "Wavelet", "BM3D"]
