import pytest
import torch

from baselines import BASELINES, BicubicDownUp


def test_registry_lists_and_refuses():
    assert "bicubic_down_up" in BASELINES.names()
    with pytest.raises(ValueError, match="unknown baseline denoiser 'bm4d'"):
        BASELINES.get("bm4d")


def test_interface_contract_shapes_ranges_determinism():
    b = BicubicDownUp()
    x = torch.rand(2, 3, 37, 50, generator=torch.Generator().manual_seed(0))
    y = b.denoise(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert torch.equal(y, b.denoise(x))
    assert b.num_parameters == 0 and b.settings()["factor"] == 4


def test_constant_image_is_kept_and_white_noise_is_reduced():
    b = BicubicDownUp()
    flat = torch.full((1, 3, 64, 64), 0.25, dtype=torch.float64)
    assert torch.allclose(b.denoise(flat), flat, atol=1e-12)
    noise = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 0.1
    # a 4x low-pass keeps roughly 1/16 of white-noise power; allow generous slack
    assert (b.denoise(flat + noise) - flat).pow(2).mean() < noise.pow(2).mean() / 4
