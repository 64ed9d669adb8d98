import json

import numpy as np
import pytest
import torch

from baselines.noise_models import (
    AWGN, NOISE_MODELS, AWGNParams, Heteroscedastic, HeteroscedasticParams, MultivariateGaussian,
    MultivariateGaussianParams, cholesky_with_jitter, noise_model_generator, synthesize,
)
from invdn.data import find_pairs, load_pair, uint8_to_float, write_rgb

# a known non-diagonal channel covariance: stds 0.04, 0.03, 0.05 with correlations 0.6, 0.3, 0.5
STD = torch.tensor([0.04, 0.03, 0.05], dtype=torch.float64)
CORR = torch.tensor([[1.0, 0.6, 0.3], [0.6, 1.0, 0.5], [0.3, 0.5, 1.0]], dtype=torch.float64)
COV = STD[:, None] * CORR * STD[None, :]


def ramps(n: int = 1, size: int = 256) -> torch.Tensor:
    """(n, 3, size, size) float64 in [0.2, 0.8]: horizontal, vertical and reversed ramps, so each
    channel spans the range evenly (away from 0 and 1: fitting assumes little clipping)."""
    x = torch.linspace(0.2, 0.8, size, dtype=torch.float64)
    channels = [x[None, :], x[:, None], x.flip(0)[None, :]]
    img = torch.stack([c.expand(size, size) for c in channels])
    return img[None].repeat(n, 1, 1, 1)


def gaussian(shape, seed: int) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_registry_lists_the_three_models():
    assert NOISE_MODELS.names() == ["awgn", "heteroscedastic", "multivariate_gaussian"]
    with pytest.raises(ValueError, match="unknown noise model 'gan'"):
        NOISE_MODELS.get("gan")


def test_awgn_recovers_sigma():
    clean = ramps()
    params = AWGN().fit((clean + 0.04 * gaussian(clean.shape, 0))[0], clean[0])  # (3, H, W) accepted
    assert params.sigma == pytest.approx(0.04, rel=0.05)
    assert json.loads(json.dumps(params.to_dict())) == {"model": "awgn", "sigma": params.sigma}


def test_heteroscedastic_recovers_a_and_b_per_channel():
    a = torch.tensor([0.010, 0.006, 0.012], dtype=torch.float64).view(3, 1, 1)
    b = torch.tensor([0.004, 0.003, 0.005], dtype=torch.float64).view(3, 1, 1)
    # four 256x256 images fitted jointly: on one image b's relative standard error is ~2.5%
    # (an intercept extrapolated from [0.2, 0.8]), on four ~1.4%, so 5% is a >3-sigma bound
    clean = ramps(4)
    noisy = clean + (a * clean + b).sqrt() * gaussian(clean.shape, 1)
    params = Heteroscedastic().fit(noisy, clean)
    assert params.a == pytest.approx(a.flatten().tolist(), rel=0.05)
    assert params.b == pytest.approx(b.flatten().tolist(), rel=0.05)


def test_heteroscedastic_constant_channel_gives_a_zero():
    clean = torch.full((3, 32, 32), 0.5, dtype=torch.float64)
    params = Heteroscedastic().fit(clean + 0.1 * gaussian(clean.shape, 2), clean)
    assert params.a == (0.0, 0.0, 0.0) and params.b == pytest.approx([0.01] * 3, rel=0.15)


def test_multivariate_gaussian_recovers_a_non_diagonal_covariance():
    clean = ramps()
    noise = torch.einsum("ck,nkhw->nchw", torch.linalg.cholesky(COV), gaussian(clean.shape, 3))
    params = MultivariateGaussian().fit(clean + noise, clean)
    assert torch.allclose(torch.tensor(params.covariance, dtype=torch.float64), COV, rtol=0.05, atol=0)


@pytest.mark.parametrize("model,params", [
    (AWGN(), AWGNParams(0.05)),
    (Heteroscedastic(), HeteroscedasticParams(a=(0.01, 0.006, 0.012), b=(0.004, 0.003, 0.005))),
    (MultivariateGaussian(), MultivariateGaussianParams(tuple(map(tuple, COV.tolist())))),
])
def test_sampling_round_trip_shape_range_and_seeds(model, params):
    clean = ramps(2, size=96).float()

    def draw(seed, samples=3):
        return model.sample(clean, params, torch.Generator().manual_seed(seed), samples)

    out = draw(0)
    assert out.shape == (3, 2, 3, 96, 96) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    assert torch.equal(out, draw(0)) and not torch.equal(out, draw(1))
    assert not torch.equal(out[0], out[1])  # the L samples differ from one another
    assert torch.equal(synthesize(clean, params, torch.Generator().manual_seed(0)), draw(0, samples=1)[0])
    # refitting the samples (away from clipping) gives back the parameters
    refit = model.fit(torch.cat(list(draw(2, samples=8))), clean.repeat(8, 1, 1, 1)).to_dict()
    for key, value in params.to_dict().items():
        if key != "model":
            assert np.allclose(refit[key], value, rtol=0.1), key


def test_sample_refuses_another_models_params_and_bad_shapes():
    with pytest.raises(TypeError, match="awgn samples with AWGNParams"):
        AWGN().sample(ramps(1, 8), HeteroscedasticParams((0.0,) * 3, (0.0,) * 3), torch.Generator())
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        AWGN().sample(ramps(1, 8)[0], AWGNParams(0.1), torch.Generator())
    with pytest.raises(ValueError, match="one shape"):
        AWGN().fit(ramps(1, 8), ramps(1, 9))


def test_heteroscedastic_negative_variance_is_clipped_when_sampling():
    clean = ramps(1, size=32)
    out = Heteroscedastic().sample(clean, HeteroscedasticParams((-1.0,) * 3, (0.0,) * 3), torch.Generator())
    assert torch.equal(out[0], clean)


def test_singular_covariance_gets_a_tiny_jitter():
    cov = torch.tensor([[1e-3, 1e-3, 0.0], [1e-3, 1e-3, 0.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    factor = cholesky_with_jitter(cov)
    assert torch.allclose(factor @ factor.T, cov, atol=1e-9)


def test_generator_adapter_on_a_tiny_on_disk_pair(tmp_path):
    rng = np.random.default_rng(0)
    clean = np.clip(np.linspace(50, 200, 48)[None, :, None] + np.zeros((40, 48, 3)), 0, 255).astype(np.uint8)
    for name in ("a", "b"):
        noisy = np.clip(clean + rng.normal(0, 8, clean.shape), 0, 255).round().astype(np.uint8)
        write_rgb(tmp_path / "Noisy" / f"{name}.png", noisy)
        write_rgb(tmp_path / "GT" / f"{name}.png", clean)
    pairs = find_pairs(tmp_path)
    noisy_a = uint8_to_float(load_pair(pairs[0])[0])[None]
    for name in NOISE_MODELS.names():
        generate = noise_model_generator(name, samples=4, seed=7)
        out = generate(pairs[0], noisy_a)
        assert out.shape == (4, 1, 3, 40, 48) and 0 <= out.min() and out.max() <= 1
        assert torch.equal(out, generate(pairs[0], noisy_a))  # seeded per image name
        assert not torch.equal(out, noise_model_generator(name, samples=4, seed=8)(pairs[0], noisy_a))
        assert (out - torch.from_numpy(clean).permute(2, 0, 1) / 255).std() == pytest.approx(8 / 255, rel=0.2)
