"""Noise generation (paper §4.6): z' = z + eps * v, reverse pass."""
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from invdn.cli import main
from invdn.inference.modes import image_generator
from invdn.inference.noise import PAPER_EPS, generate_noisy
from invdn.models import InvDN


@pytest.fixture
def model():
    torch.manual_seed(0)
    return InvDN(inv_blocks=2).eval()


def _noisy(n=2, h=16, w=20):
    return torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(1)) * 0.8 + 0.1


def _gens(n, seed=0):
    return [image_generator(seed, f"img{i}") for i in range(n)]


def test_eps_zero_gives_back_the_real_noisy_image(model):
    noisy = _noisy()
    out = generate_noisy(model, noisy, _gens(2), samples=3, eps=0.0)
    assert out.shape == (3, 2, 3, 16, 20)
    torch.testing.assert_close(out, noisy.expand(3, -1, -1, -1, -1), rtol=0, atol=1e-5)


def test_perturbation_grows_with_eps_and_stays_in_range(model):
    noisy = _noisy()
    dist = []
    for eps in (PAPER_EPS, 1e-2, 1e-1):
        out = generate_noisy(model, noisy, _gens(2), samples=2, eps=eps)
        assert out.min() >= 0 and out.max() <= 1
        dist.append((out - noisy).abs().mean().item())
    assert 0 < dist[0] < dist[1] < dist[2]


def test_seeded_and_independent_of_the_batch(model):
    noisy = _noisy(3)
    batch = generate_noisy(model, noisy, _gens(3), samples=2, eps=0.05)
    again = generate_noisy(model, noisy, _gens(3), samples=2, eps=0.05)
    assert torch.equal(batch, again)
    for i in range(3):
        one = generate_noisy(model, noisy[i : i + 1], [image_generator(0, f"img{i}")], samples=2, eps=0.05)
        torch.testing.assert_close(one[:, 0], batch[:, i], rtol=0, atol=1e-6)
    other = generate_noisy(model, noisy, _gens(3, seed=1), samples=2, eps=0.05)
    assert not torch.equal(batch, other)


def test_bad_arguments_are_refused(model):
    with pytest.raises(ValueError, match="one generator per image"):
        generate_noisy(model, _noisy(2), _gens(1))
    with pytest.raises(ValueError, match=r"samples \(mc_samples\) must be >= 1"):
        generate_noisy(model, _noisy(1), _gens(1), samples=0)


def test_generate_noise_command_reads_official_weights(model, tmp_path):
    weights = tmp_path / "InvDN_ResUnit_x4.pth"
    torch.save(model.state_dict(), weights)  # official naming, 2 x 2 blocks: not the paper default
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray((np.random.default_rng(0).random((18, 22, 3)) * 255).astype(np.uint8)).save(src / "a.png")
    ours = tmp_path / "m.pt"
    torch.save({"format": "invdn-repro/model/1", "arch": model.arch.to_dict(), "model": model.state_dict()}, ours)
    for name, checkpoint in (("official", weights), ("ours", ours)):  # the architecture is read off the .pth
        args = ["generate-noise", str(src), "--checkpoint", str(checkpoint), "--out-dir", str(tmp_path / name), "--samples", "2"]
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 0, r.output
        assert sorted(p.name for p in (tmp_path / name).iterdir()) == ["a_00.png", "a_01.png"]
    assert Image.open(tmp_path / "ours" / "a_00.png").size == (22, 18)
    for k in ("a_00.png", "a_01.png"):
        assert np.array_equal(np.asarray(Image.open(tmp_path / "official" / k)), np.asarray(Image.open(tmp_path / "ours" / k)))
