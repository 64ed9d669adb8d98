import math
import sys

import pytest
import torch

from baselines.classical import BM3D, NonLocalMeans, TotalVariation, Wavelet, bm3d_available


def _bm3d():
    pytest.importorskip("bm3d")
    return BM3D


METHODS = [NonLocalMeans, TotalVariation, Wavelet, pytest.param("bm3d", id="bm3d")]


def _make(method):
    return _bm3d()() if method == "bm3d" else method()


def smooth_image(h: int = 64, w: int = 64) -> torch.Tensor:
    """(1, 3, H, W) float64 in [0.2, 0.8]: slow sinusoids and ramps, different per channel."""
    y = torch.linspace(0, 1, h, dtype=torch.float64)[:, None]
    x = torch.linspace(0, 1, w, dtype=torch.float64)[None, :]
    channels = [
        0.5 + 0.25 * torch.sin(2 * math.pi * x) * torch.cos(math.pi * y),
        0.3 + 0.4 * x * y,
        0.6 - 0.3 * torch.sin(math.pi * (x + y)) ** 2,
    ]
    return torch.stack(channels)[None]


def awgn(clean: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return clean + sigma * torch.randn(clean.shape, generator=gen, dtype=clean.dtype)


@pytest.mark.parametrize("method", METHODS)
def test_interface_contract_shape_dtype_determinism(method):
    d = _make(method)
    x = torch.cat([awgn(smooth_image(40, 48), 0.03, seed=1), awgn(smooth_image(40, 48), 0.08, seed=2)])
    x = x.float().clamp(0, 1)
    y = d.denoise(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert torch.isfinite(y).all()
    # the same images again, one at a time: deterministic and independent of the batch
    assert torch.equal(y, torch.cat([d.denoise(x[:1]), d.denoise(x[1:])]))
    s = d.settings()
    assert d.num_parameters == 0 and s["library"] and s["version"] and "estimate_sigma" in s["sigma_rule"]
    assert d.estimate_sigma(x) == pytest.approx([0.03, 0.08], rel=0.15)


@pytest.mark.parametrize("method", METHODS)
def test_constant_image_is_kept(method):
    flat = torch.full((1, 3, 48, 48), 0.3, dtype=torch.float64)
    assert torch.allclose(_make(method).denoise(flat), flat, atol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_white_noise_on_a_smooth_image_is_reduced(method):
    clean = smooth_image()
    noisy = awgn(clean, 0.05, seed=3)
    mse_noisy = (noisy - clean).pow(2).mean()
    mse_denoised = (_make(method).denoise(noisy) - clean).pow(2).mean()
    # measured 8.6x (wavelet) to 29x (BM3D); a method that merely smooths a little would not pass
    assert mse_denoised < mse_noisy / 4


@pytest.mark.parametrize("sigma", [0.02, 0.05, 0.1])
def test_estimate_sigma_recovers_known_awgn(sigma):
    clean = 0.4 + 0.1 * smooth_image()
    noisy = torch.cat([awgn(clean, sigma, seed=4), awgn(clean, 2 * sigma, seed=5)])
    estimates = TotalVariation().estimate_sigma(noisy)
    assert estimates == pytest.approx([sigma, 2 * sigma], rel=0.1)


def test_wrong_shape_is_refused():
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\) float"):
        TotalVariation().denoise(torch.rand(3, 16, 16))


def test_bm3d_missing_gives_an_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "bm3d", None)  # makes `import bm3d` raise ImportError
    assert not bm3d_available()
    with pytest.raises(ImportError, match=r"pip install bm3d.*\.\[bm3d\]") as err:
        BM3D()
    assert "non-commercial" in str(err.value)


def test_pywavelets_missing_gives_an_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "pywt", None)
    with pytest.raises(ImportError, match="pip install PyWavelets"):
        Wavelet()
