"""DBSN's three basic noise models, fitted to real (noisy, clean) pairs and sampled from clean images.

DBSN (Wu et al., "Unpaired Learning of Deep Image Denoising", ECCV 2020) evaluates colour
denoising under AWGN, heteroscedastic Gaussian (HG, the Gaussian approximation of
Poisson-Gaussian noise) and multivariate Gaussian (MG, noise correlated across R, G, B but not
across pixels). Here each is a parametric generator: ``fit`` estimates its parameters from the
residual noisy - clean, ``sample`` draws new noisy images from a clean one with an explicit seeded
``torch.Generator``. They are the reference points for InvDN's noise generation (AKLD, paper
Table 5) and can synthesise training pairs from clean images.

All models assume zero-mean noise, independent between pixels. Fitting uses the unclipped model,
so it is exact only when few noisy pixels were clipped at 0 or 1 (true of SIDD sRGB away from
saturated regions); samples are clamped to [0, 1] and not quantised (DANet's AKLD protocol).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar

import torch

from invdn.data import ImagePair, load_pair, uint8_to_float
from invdn.inference.modes import image_generator
from invdn.inference.noise import Generator
from invdn.models.registry import Registry


@dataclass(frozen=True)
class NoiseParams:
    model: ClassVar[str]

    def to_dict(self) -> dict:
        """Plain values for logging, with the model's registry name under ``model``."""
        return {"model": self.model, **asdict(self)}


@dataclass(frozen=True)
class AWGNParams(NoiseParams):
    sigma: float  # noise std, [0, 1] intensity units
    model: ClassVar[str] = "awgn"


@dataclass(frozen=True)
class HeteroscedasticParams(NoiseParams):
    a: tuple[float, float, float]  # per channel (R, G, B): var(n | x) = a * x + b
    b: tuple[float, float, float]
    model: ClassVar[str] = "heteroscedastic"


@dataclass(frozen=True)
class MultivariateGaussianParams(NoiseParams):
    covariance: tuple[tuple[float, ...], ...]  # 3x3 channel covariance (R, G, B), [0, 1] units squared
    model: ClassVar[str] = "multivariate_gaussian"


def _as_batch(noisy: torch.Tensor, clean: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(3, H, W) or (N, 3, H, W) float pairs -> (N, 3, H, W) float64 residual and clean, on CPU."""
    if noisy.shape != clean.shape or clean.ndim not in (3, 4) or clean.shape[-3] != 3:
        raise ValueError(f"expected noisy and clean of one shape (3, H, W) or (N, 3, H, W); "
                         f"got {tuple(noisy.shape)} and {tuple(clean.shape)}")
    clean = clean.detach().cpu().double().reshape(-1, *clean.shape[-3:])
    return noisy.detach().cpu().double().reshape(clean.shape) - clean, clean


class NoiseModel:
    """Fit and sample; a subclass sets ``name``, ``params_type``, ``fit_residual`` and ``noise``."""

    name: ClassVar[str]
    params_type: ClassVar[type]

    def fit(self, noisy: torch.Tensor, clean: torch.Tensor) -> NoiseParams:
        """Parameters from (3, H, W) or (N, 3, H, W) float images in [0, 1] (N fitted jointly).

        Raises ValueError when the shapes differ or are not RGB images.
        """
        residual, clean = _as_batch(noisy, clean)
        return self.fit_residual(residual, clean)

    def sample(self, clean: torch.Tensor, params: NoiseParams, generator: torch.Generator,
               samples: int = 1) -> torch.Tensor:
        """(N, 3, H, W) clean float in [0, 1] -> (L=samples, N, 3, H, W) noisy, clamped to [0, 1].

        Standard normals are drawn from ``generator`` (on ``clean``'s device), in ``clean``'s dtype.
        Raises ValueError for another shape or samples < 1, TypeError for another model's params.
        """
        if clean.ndim != 4 or clean.shape[1] != 3 or samples < 1:
            raise ValueError(f"expected clean (N, 3, H, W) and samples >= 1; got {tuple(clean.shape)}, {samples}")
        if not isinstance(params, self.params_type):
            raise TypeError(f"{self.name} samples with {self.params_type.__name__}, got {type(params).__name__}")
        z = torch.randn((samples, *clean.shape), generator=generator, dtype=clean.dtype, device=clean.device)
        return (clean + self.noise(z, clean, params)).clamp(0, 1)

    def fit_residual(self, residual: torch.Tensor, clean: torch.Tensor) -> NoiseParams:
        raise NotImplementedError

    def noise(self, z: torch.Tensor, clean: torch.Tensor, params: NoiseParams) -> torch.Tensor:
        """Standard normal z (L, N, 3, H, W) -> noise of the same shape for ``clean`` (N, 3, H, W)."""
        raise NotImplementedError


class AWGN(NoiseModel):
    """n ~ N(0, sigma^2), one sigma for all pixels and channels: the population std of noisy - clean."""

    name = "awgn"
    label = "AWGN"
    params_type = AWGNParams

    def fit_residual(self, residual, clean):
        return AWGNParams(sigma=float(residual.std(correction=0)))

    def noise(self, z, clean, params):
        return params.sigma * z


class Heteroscedastic(NoiseModel):
    """n | x ~ N(0, a x + b) per channel, x the clean intensity (Poisson-Gaussian, DBSN's HG).

    Fit: ordinary least squares of residual^2 on x, per channel, every pixel one observation (no
    binning: E[r^2 | x] = a x + b is linear, so pixel-wise OLS is unbiased; binning by intensity
    only changes the weights, and equal-weight bins would over-weight rare intensities). A channel
    of constant x gives a = 0, b = mean r^2. a or b may come out negative on real data (sRGB tone
    curves); they are logged as fitted and the variance is clipped at 0 when sampling.
    """

    name = "heteroscedastic"
    label = "Heteroscedastic Gaussian"
    params_type = HeteroscedasticParams

    def fit_residual(self, residual, clean):
        x = clean.transpose(0, 1).reshape(3, -1)
        y = residual.transpose(0, 1).reshape(3, -1).square()
        xc = x - x.mean(1, keepdim=True)
        var_x = xc.square().mean(1)
        a = torch.where(var_x > 0, (xc * y).mean(1) / var_x.clamp_min(1e-300), 0.0)
        b = y.mean(1) - a * x.mean(1)
        return HeteroscedasticParams(a=tuple(a.tolist()), b=tuple(b.tolist()))

    def noise(self, z, clean, params):
        a, b = (torch.tensor(v, dtype=clean.dtype, device=clean.device).view(3, 1, 1) for v in (params.a, params.b))
        return (a * clean + b).clamp_min(0).sqrt() * z


class MultivariateGaussian(NoiseModel):
    """n ~ N(0, Sigma) per pixel, Sigma the 3x3 (R, G, B) covariance of noisy - clean (DBSN's MG).

    Sampled as L z with L the Cholesky factor of Sigma. A fitted Sigma is positive semi-definite;
    when it is singular (a noise-free channel, or identical noise in two channels) a jitter of
    1e-12 to 1e-6 times its mean variance is added to the diagonal, the smallest that works.
    """

    name = "multivariate_gaussian"
    label = "Multivariate Gaussian"
    params_type = MultivariateGaussianParams

    def fit_residual(self, residual, clean):
        r = residual.transpose(0, 1).reshape(3, -1)
        r = r - r.mean(1, keepdim=True)
        return MultivariateGaussianParams(covariance=tuple(map(tuple, (r @ r.T / r.shape[1]).tolist())))

    def noise(self, z, clean, params):
        factor = cholesky_with_jitter(torch.tensor(params.covariance, dtype=torch.float64))
        return torch.einsum("ck,lnkhw->lnchw", factor.to(clean.device, clean.dtype), z)


def cholesky_with_jitter(covariance: torch.Tensor) -> torch.Tensor:
    """Lower Cholesky factor of a (3, 3) float64 covariance, with the jitter described in
    ``MultivariateGaussian``. Raises ValueError when even the largest jitter fails."""
    scale = max(float(covariance.diagonal().mean()), 1e-12)
    for jitter in (0.0, 1e-12, 1e-10, 1e-8, 1e-6):
        factor, info = torch.linalg.cholesky_ex(covariance + jitter * scale * torch.eye(3, dtype=covariance.dtype))
        if int(info) == 0:
            return factor
    raise ValueError(f"covariance {covariance.tolist()} is not positive semi-definite; refit it from data")


NOISE_MODELS: Registry = Registry("noise model")
for _model in (AWGN, Heteroscedastic, MultivariateGaussian):
    NOISE_MODELS.register(_model.name, _model)


def synthesize(clean: torch.Tensor, params: NoiseParams, generator: torch.Generator) -> torch.Tensor:
    """One noisy version (N, 3, H, W) in [0, 1] of clean (N, 3, H, W), for synthetic training pairs;
    the model is the one ``params`` belongs to."""
    return NOISE_MODELS.get(params.model)().sample(clean, params, generator)[0]


def noise_model_generator(model: str | NoiseModel, samples: int, seed: int = 0,
                          device: torch.device | str = "cpu") -> Generator:
    """A fitted noise model as an ``invdn.inference.noise.Generator`` for ``score_generation`` (AKLD).

    Per pair: the clean image is read, the model fitted on that image's (noisy, clean), and
    ``samples`` noisy images drawn with the per-image generator ``image_generator(seed, name)``,
    so results do not depend on the order of the images. ``model``: a registry name or instance.
    """
    model = NOISE_MODELS.get(model)() if isinstance(model, str) else model
    device = torch.device(device)

    def run(pair: ImagePair, noisy: torch.Tensor) -> torch.Tensor:
        _, clean_u8, _ = load_pair(pair)
        clean = uint8_to_float(clean_u8)[None].to(device)
        params = model.fit(noisy, clean)
        return model.sample(clean, params, image_generator(seed, pair.name, device), samples).cpu()

    return run
