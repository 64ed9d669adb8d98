import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from invdn.metrics import canonical_scores, gaussian_window, psnr, ssim


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    clean = rng.integers(0, 256, (3, 48, 40)).astype(np.uint8)
    noisy = np.clip(clean + rng.normal(0, 20, clean.shape), 0, 255).astype(np.uint8)
    return noisy, clean


def test_psnr_matches_skimage(pair):
    noisy, clean = pair
    assert abs(psnr(noisy, clean) - peak_signal_noise_ratio(clean, noisy, data_range=255)) < 1e-10


def test_psnr_edge_cases():
    a = np.zeros((3, 4, 4))
    assert psnr(a, a) == math.inf
    with pytest.raises(ValueError, match="shapes differ"):
        psnr(a, np.zeros((3, 4, 5)))
    b = a.copy()
    b[0, 0, 0] = 255  # MSE = 255^2 / 48
    assert abs(psnr(b, a) - 10 * math.log10(48)) < 1e-12


def test_ssim_matches_skimage_gaussian_reference(pair):
    noisy, clean = pair
    ref = structural_similarity(
        noisy.astype(np.float64), clean.astype(np.float64), data_range=255, channel_axis=0,
        gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    )
    assert abs(ssim(noisy, clean) - ref) < 1e-10
    assert abs(ssim(noisy.transpose(1, 2, 0), clean.transpose(1, 2, 0), channel_axis=-1) - ref) < 1e-12


def test_ssim_identity_and_errors(pair):
    _, clean = pair
    assert ssim(clean, clean) == pytest.approx(1.0, abs=1e-15)
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(np.zeros((3, 10, 20)), np.zeros((3, 10, 20)))


def test_gaussian_window_is_normalised_and_symmetric():
    w = gaussian_window()
    assert w.shape == (11, 11) and abs(w.sum().item() - 1) < 1e-15
    assert torch.equal(w, w.T) and torch.equal(w, w.flip(0))


def test_canonical_protocol_quantises_to_uint8(pair):
    noisy, clean = pair
    clean_f = torch.from_numpy(clean).double() / 255
    # values outside [0, 1] are clamped; a sub-half-level offset vanishes in the rounding
    den = torch.from_numpy(noisy).double() / 255 + 0.4 / 255
    p, s = canonical_scores(den, clean_f)
    assert abs(p - psnr(noisy, clean)) < 1e-12 and abs(s - ssim(noisy, clean)) < 1e-12
    p_clamped, _ = canonical_scores(clean_f + 2.0 * (clean_f == 1).double(), clean_f)
    assert p_clamped == math.inf
