"""Baselines run by the harness, each family in its own module, all scored by InvDN's evaluation code.

- Denoisers behind one interface: ``name``, ``label`` (for tables), ``num_parameters`` (0 for
  classical methods), ``settings()`` (logged to MLflow) and ``denoise(noisy)``: (N, 3, H, W) float in
  [0, 1] -> the same shape, float (clamped by the protocol). Classical ones are registered in
  ``BASELINES`` below; learned ones (``networks.NETWORKS``) are trained by ``invdn train`` and loaded
  from their model file by ``learned.LearnedBaseline``.
- Noise models (``noise_models.NOISE_MODELS``): generators of noisy images for AKLD and PGap.
"""
from functools import partial

from invdn.models.registry import DENOISERS, NETWORKS, NOISE_MODELS

from baselines.bicubic import BicubicDownUp
from baselines.classical import BM3D, NonLocalMeans, TotalVariation, Wavelet
from baselines.learned import LEARNED
from baselines.networks import NETWORKS as _NETWORKS
from baselines.noise_models import NOISE_MODELS as _NOISE_MODELS, noise_model_generator

# Registered into invdn's extension points (invdn loads this package through the `invdn.plugins`
# entry point; it never imports it by name).
BASELINES = DENOISERS
for _cls in (BicubicDownUp, NonLocalMeans, TotalVariation, Wavelet, BM3D):
    DENOISERS.register(_cls.name, _cls)
for _name in _NETWORKS.names():
    NETWORKS.register(_name, LEARNED)


def _noise_generator(name: str, samples: int, seed: int = 0, device="cpu"):
    """(a Generator of ``samples`` noisy images per pair from noise model ``name`` fitted per image, its label)."""
    model = _NOISE_MODELS.get(name)()
    return noise_model_generator(model, samples, seed, device), model.label


for _name in _NOISE_MODELS.names():
    NOISE_MODELS.register(_name, partial(_noise_generator, _name))

__all__ = ["BASELINES", "BicubicDownUp", "NonLocalMeans", "TotalVariation", "Wavelet", "BM3D"]
