"""Metric protocols: SSIM/PSNR against independent references, and the documented differences."""
import math

import numpy as np
import pytest
import torch
from scipy.signal import correlate2d

from invdn.metrics import (
    CANONICAL,
    PROTOCOLS,
    canonical_scores,
    get_protocol,
    psnr,
    rgb_to_bt601_luma,
    scores,
    ssim,
)

NAMES = {"canonical", "float", "y", "crop4", "y_crop4"}


# ---------------------------------------------------------------- independent references


def reference_ssim(img: np.ndarray, ref: np.ndarray, data_range: float) -> float:
    """Wang et al. (ssim_index.m) on (C, H, W): 11x11 Gaussian (sigma 1.5, sum 1), valid region,
    K1 = 0.01, K2 = 0.03, population statistics; channel maps averaged."""
    x = np.arange(11) - 5.0
    g = np.exp(-x * x / (2 * 1.5**2))
    w = np.outer(g, g)
    w /= w.sum()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    means = []
    for a, b in zip(img.astype(np.float64), ref.astype(np.float64)):
        def f(z):
            return correlate2d(z, w, mode="valid")
        mu_a, mu_b = f(a), f(b)
        var_a = f(a * a) - mu_a**2
        var_b = f(b * b) - mu_b**2
        cov = f(a * b) - mu_a * mu_b
        smap = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
        means.append(smap.mean())
    return float(np.mean(means))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ssim_equals_wang_reference(seed):
    rng = np.random.default_rng(seed)
    clean = rng.integers(0, 256, (3, 32, 40)).astype(np.uint8)
    noisy = np.clip(clean + rng.normal(0, 25, clean.shape), 0, 255).round().astype(np.uint8)
    assert abs(ssim(noisy, clean, 255.0) - reference_ssim(noisy, clean, 255.0)) < 1e-10
    a, b = rng.random((3, 32, 40)), rng.random((3, 32, 40))
    assert abs(ssim(a, b, 1.0) - reference_ssim(a, b, 1.0)) < 1e-10
    # a single plane, as the y protocol scores it
    assert abs(ssim(a[:1], b[:1], 1.0) - reference_ssim(a[:1], b[:1], 1.0)) < 1e-10


def test_psnr_equals_hand_computation():
    a = np.zeros((3, 4, 5))
    b = a.copy()
    b[0, 1, 2], b[2, 3, 4] = 10.0, -6.0  # squared errors 100 + 36 over 60 values
    assert psnr(b, a, 255.0) == pytest.approx(10 * math.log10(255**2 * 60 / 136), abs=1e-12)
    assert psnr(b / 255, a / 255, 1.0) == pytest.approx(10 * math.log10(255**2 * 60 / 136), abs=1e-10)
    assert psnr(a, a, 255.0) == math.inf


# ---------------------------------------------------------------- the documented differences


def levels(rng, shape, low=0, high=256):
    return rng.integers(low, high, shape).astype(np.float64)


def as_unit(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(x) / 255.0


def test_crop4_ignores_exactly_the_4_pixel_border():
    rng = np.random.default_rng(3)
    clean = levels(rng, (3, 24, 28))
    border = np.ones((24, 28), bool)
    border[4:-4, 4:-4] = False
    den = clean.copy()
    den[:, border] = 255 - den[:, border]  # errors on every border pixel, none inside
    p_crop, s_crop = scores("crop4", as_unit(den), as_unit(clean))
    p_can, s_can = scores("canonical", as_unit(den), as_unit(clean))
    assert p_crop == math.inf and s_crop == pytest.approx(1.0, abs=1e-15)
    assert math.isfinite(p_can) and s_can < 0.99
    # one error just inside the border counts: the crop is 4 pixels, not more
    den[1, 4, 10] = 255 - clean[1, 4, 10]  # integer levels: never equal to clean
    p_in, _ = scores("crop4", as_unit(den), as_unit(clean))
    inner = 16 * 20 * 3
    assert p_in == pytest.approx(10 * math.log10(255**2 * inner / (den[1, 4, 10] - clean[1, 4, 10]) ** 2), abs=1e-9)
    # crop4 is canonical on the cropped images
    den_c, clean_c = as_unit(den)[:, 4:-4, 4:-4], as_unit(clean)[:, 4:-4, 4:-4]
    assert scores("crop4", as_unit(den), as_unit(clean)) == scores("canonical", den_c, clean_c)
    # and y_crop4 is y on the cropped images (PaddleGAN's InvDN setting)
    assert scores("y_crop4", as_unit(den), as_unit(clean)) == scores("y", den_c, clean_c)


def test_float_keeps_what_rounding_to_uint8_removes():
    rng = np.random.default_rng(4)
    clean = as_unit(levels(rng, (3, 20, 24), 1, 255))  # away from 0 and 1: no clamping below
    den = clean + 0.4 / 255  # less than half a uint8 step
    p_can, s_can = scores("canonical", den, clean)
    p_flt, s_flt = scores("float", den, clean)
    assert p_can == math.inf and s_can == pytest.approx(1.0, abs=1e-15)
    assert p_flt == pytest.approx(20 * math.log10(255 / 0.4), abs=1e-9)  # L = 1, error 0.4/255 everywhere
    assert s_flt == pytest.approx(ssim(den.double(), clean.double(), 1.0), abs=1e-15) and s_flt < 1.0
    # the y protocol rounds to uint8 first too
    assert scores("y", den, clean)[0] == math.inf
    # float clamps as well: values beyond [0, 1] score as the clamped image
    over = clean.clone()
    over[0, 0, 0], over[1, 2, 3] = 1.7, -0.3
    clamped = over.clamp(0, 1)
    assert scores("float", over, clean) == scores("float", clamped, clean)
    assert scores("float", clean, clean) == (math.inf, pytest.approx(1.0, abs=1e-15))


def test_y_ignores_a_chroma_error_and_keeps_luma_unrounded():
    rng = np.random.default_rng(5)
    clean = levels(rng, (3, 24, 24), 10, 246)
    chroma = np.array([4.0, -3.0, 5.0])  # 65.481*4 - 128.553*3 + 24.966*5 = 1.095: almost no luma
    sign = rng.choice([-1.0, 1.0], (24, 24))
    den = clean + chroma[:, None, None] * sign  # integer levels, stays in [0, 255]
    p_can, s_can = scores("canonical", as_unit(den), as_unit(clean))
    p_y, s_y = scores("y", as_unit(den), as_unit(clean))
    assert p_can == pytest.approx(10 * math.log10(255**2 * 3 / 50), abs=1e-9)
    # |dY| = 1.095 / 255 on every pixel; rounding Y would have erased it (PSNR inf)
    assert p_y == pytest.approx(20 * math.log10(255 / (1.095 / 255)), abs=1e-6)
    assert p_y - p_can > 55
    assert s_can < 0.999 and 1 - s_y < 1e-4 * (1 - s_can)  # the SSIM loss nearly vanishes on Y too


def test_y_scores_bt601_luma_with_l_255():
    rng = np.random.default_rng(6)
    clean, den = levels(rng, (3, 16, 16)), levels(rng, (3, 16, 16))
    y_clean = 16 + (65.481 * clean[0] + 128.553 * clean[1] + 24.966 * clean[2]) / 255
    y_den = 16 + (65.481 * den[0] + 128.553 * den[1] + 24.966 * den[2]) / 255
    p, s = scores("y", as_unit(den), as_unit(clean))
    assert p == pytest.approx(10 * math.log10(255**2 / np.mean((y_den - y_clean) ** 2)), abs=1e-9)
    assert s == pytest.approx(reference_ssim(y_den[None], y_clean[None], 255.0), abs=1e-10)


def test_bt601_luma_range_and_weights():
    black, white = torch.zeros(3, 2, 2), torch.full((3, 2, 2), 255.0)
    assert torch.allclose(rgb_to_bt601_luma(black), torch.full((1, 2, 2), 16.0, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(rgb_to_bt601_luma(white), torch.full((1, 2, 2), 235.0, dtype=torch.float64), atol=1e-12)
    red = torch.zeros(3, 1, 1)
    red[0] = 255
    assert rgb_to_bt601_luma(red).item() == pytest.approx(16 + 65.481, abs=1e-12)


def test_canonical_rounds_and_clamps():
    rng = np.random.default_rng(7)
    clean = levels(rng, (3, 20, 20))
    den = levels(rng, (3, 20, 20))
    p, s = scores("canonical", as_unit(den) + 0.3 / 255, as_unit(clean))
    assert p == pytest.approx(psnr(den, clean, 255.0), abs=1e-12)
    assert s == pytest.approx(reference_ssim(den, clean, 255.0), abs=1e-10)


# ---------------------------------------------------------------- the registry


def test_every_protocol_is_registered_under_its_name():
    assert set(PROTOCOLS) == NAMES and CANONICAL == "canonical"
    for name, protocol in PROTOCOLS.items():
        assert protocol.name == name and protocol.description
        assert get_protocol(name) is protocol
    with pytest.raises(TypeError):
        PROTOCOLS["mine"] = PROTOCOLS["canonical"]  # read-only: names are not rebound at run time


def test_unknown_protocol_lists_the_known_names():
    x = torch.rand(3, 16, 16)
    with pytest.raises(ValueError, match="unknown metric protocol 'Y'") as err:
        scores("Y", x, x)
    assert all(name in str(err.value) for name in NAMES)


def test_canonical_scores_is_the_canonical_protocol():
    gen = torch.Generator().manual_seed(8)
    clean = torch.rand(3, 30, 26, generator=gen)
    den = clean + 0.1 * torch.randn(3, 30, 26, generator=gen)  # some values leave [0, 1]
    assert canonical_scores(den, clean) == scores("canonical", den, clean)
    a, b = (torch.round(t.clamp(0, 1) * 255).double() for t in (den, clean))
    assert canonical_scores(den, clean) == (psnr(a, b, 255.0), ssim(a, b, 255.0))


@pytest.mark.parametrize("name", sorted(NAMES))
def test_shapes_are_checked(name):
    with pytest.raises(ValueError, match="shapes differ"):
        scores(name, torch.rand(3, 20, 20), torch.rand(3, 20, 21))
    with pytest.raises(ValueError, match=r"expected \(3, H, W\)"):
        scores(name, torch.rand(1, 3, 20, 20), torch.rand(1, 3, 20, 20))
    small = 10 + (8 if name.endswith("crop4") else 0)
    with pytest.raises(ValueError, match="at least"):
        scores(name, torch.rand(3, small, 30), torch.rand(3, small, 30))
