import pytest
import torch

from invdn.inference.modes import denoise, image_generator
from invdn.models import InvDN


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return InvDN(inv_blocks=1).double().eval()


def test_same_seed_same_output_and_names_get_their_own_z(model):
    x = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    a = denoise(model, x, [image_generator(0, "a")], mc_samples=3)
    b = denoise(model, x, [image_generator(0, "a")], mc_samples=3)
    c = denoise(model, x, [image_generator(0, "b")], mc_samples=3)
    d = denoise(model, x, [image_generator(1, "a")], mc_samples=3)
    assert torch.equal(a, b) and not torch.equal(a, c) and not torch.equal(a, d)


@pytest.mark.parametrize("mc_samples", [1, 4])
def test_batch_equals_images_one_at_a_time(model, mc_samples):
    x = torch.rand(3, 3, 16, 16, dtype=torch.float64)
    names = ["x", "y", "z"]
    batch = denoise(model, x, [image_generator(7, n) for n in names], mc_samples)
    single = torch.cat([denoise(model, x[i : i + 1], [image_generator(7, n)], mc_samples) for i, n in enumerate(names)])
    assert torch.allclose(batch, single, atol=1e-12)


def test_mc_is_the_mean_of_reverse_passes_with_successive_draws(model):
    x = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    mc = denoise(model, x, [image_generator(0, "a")], mc_samples=4)
    gen = image_generator(0, "a")
    with torch.no_grad():
        lr = model(x)[:, :3]
        z = torch.randn((4, 45, 4, 4), generator=gen, dtype=torch.float64)
        outs = [model(torch.cat((lr, z[i : i + 1]), 1), rev=True) for i in range(4)]
    assert torch.allclose(mc, torch.stack(outs).mean(0), atol=1e-12)


def test_sizes_not_divisible_are_padded_and_cropped_back(model):
    x = torch.rand(1, 3, 18, 21, dtype=torch.float64)
    assert denoise(model, x, [image_generator(0, "a")]).shape == (1, 3, 18, 21)


def test_argument_errors(model):
    x = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    with pytest.raises(ValueError, match="one generator per image"):
        denoise(model, x, [image_generator(0, "a")])
    with pytest.raises(ValueError, match=r"samples \(mc_samples\) must be >= 1"):
        denoise(model, x[:1], [image_generator(0, "a")], mc_samples=0)


def test_dihedral_transforms_are_inverted_and_distinct():
    from invdn.inference.modes import dihedral, dihedral_inverse

    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float64).reshape(2, 3, 4, 4)
    outs = [dihedral(x, k) for k in range(8)]
    assert all(torch.equal(dihedral_inverse(o, k), x) for k, o in enumerate(outs))
    assert len({tuple(o.flatten().tolist()) for o in outs}) == 8


def test_x8_is_the_mean_of_mapped_back_variants_and_batch_independent(model):
    from invdn.inference.modes import denoise_x8, dihedral, dihedral_inverse

    x = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    out = denoise_x8(model, x, [image_generator(0, "a"), image_generator(0, "b")], mc_samples=2)
    gen = image_generator(0, "a")
    manual = sum(dihedral_inverse(denoise(model, dihedral(x[:1], k), [gen], 2), k) for k in range(8)) / 8
    assert torch.allclose(out[:1], manual, atol=1e-12)
    single = denoise_x8(model, x[1:], [image_generator(0, "b")], mc_samples=2)
    assert torch.allclose(out[1:], single, atol=1e-12)


@pytest.mark.parametrize("mode", ["single", "mc", "x8", "x8_mc"])
def test_every_mode_gives_per_image_results_independent_of_the_batch(model, mode):
    from invdn.inference.modes import run_mode

    x = torch.rand(3, 3, 16, 20, dtype=torch.float64)
    names = ["p", "q", "r"]
    batch = run_mode(model, x, [image_generator(5, n) for n in names], mode, mc_samples=3)
    again = run_mode(model, x, [image_generator(5, n) for n in names], mode, mc_samples=3)
    assert torch.equal(batch, again)
    for i, n in enumerate(names):
        one = run_mode(model, x[i : i + 1], [image_generator(5, n)], mode, mc_samples=3)
        torch.testing.assert_close(one, batch[i : i + 1], rtol=0, atol=1e-12)


def test_modes_differ_as_documented(model):
    from invdn.inference.modes import Mode, denoise_x8, run_mode

    x = torch.rand(1, 3, 16, 16, dtype=torch.float64)

    def gen():
        return [image_generator(0, "a")]

    assert torch.equal(run_mode(model, x, gen(), "single", 7), denoise(model, x, gen(), 1))
    assert torch.equal(run_mode(model, x, gen(), "mc", 7), denoise(model, x, gen(), 7))
    assert torch.equal(run_mode(model, x, gen(), "x8", 7), denoise_x8(model, x, gen(), 1))
    assert torch.equal(run_mode(model, x, gen(), "x8_mc", 7), denoise_x8(model, x, gen(), 7))
    assert [Mode(m).reverse_passes(7) for m in ("single", "mc", "x8", "x8_mc")] == [1, 7, 8, 56]
    with pytest.raises(ValueError, match="unknown inference mode 'x4'; known: single, mc, x8, x8_mc"):
        run_mode(model, x, gen(), "x4")


def test_reverse_batching_does_not_change_the_draws(model):
    from invdn.inference.modes import reverse_samples

    x = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    names = ["a", "b"]
    one_pass = list(reverse_samples(model, x, [image_generator(0, n) for n in names], 5, pass_pixels=10**9))
    per_draw = list(reverse_samples(model, x, [image_generator(0, n) for n in names], 5, pass_pixels=16 * 16))
    pairs_of_two = list(reverse_samples(model, x, [image_generator(0, n) for n in names], 5, pass_pixels=2 * 16 * 16))
    for a, b, c in zip(one_pass, per_draw, pairs_of_two):
        assert a.shape == (5, 3, 16, 16)
        torch.testing.assert_close(b, a, rtol=0, atol=1e-12)
        torch.testing.assert_close(c, a, rtol=0, atol=1e-12)


def test_fast_inference_paths_keep_the_numbers():
    """channels_last weights give the reference float32 outputs to round-off; bf16 autocast returns
    float32 of the same shape, close to them; an unknown precision is refused by name."""
    import pytest

    from invdn.inference.modes import image_generator, prepare_for_inference, run_mode
    from invdn.models import InvDN

    torch.manual_seed(0)
    ref_model = InvDN(inv_blocks=2).eval()
    x = torch.rand(1, 3, 36, 44, generator=torch.Generator().manual_seed(1))
    ref = run_mode(ref_model, x, [image_generator(0, "a")], "mc", 2)
    fast = InvDN(inv_blocks=2)
    fast.load_state_dict(ref_model.state_dict())
    prepare_for_inference(fast, "float32", channels_last=True)
    assert next(fast.parameters()).is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(run_mode(fast, x, [image_generator(0, "a")], "mc", 2), ref, atol=1e-5)
    fast.precision = "bf16"
    half = run_mode(fast, x, [image_generator(0, "a")], "mc", 2)
    assert half.dtype == torch.float32 and half.shape == ref.shape
    assert 0 < (half - ref).abs().mean() < 0.05
    fast.precision = "fp8"
    with pytest.raises(ValueError, match="precision must be one of float32, bf16, got 'fp8'"):
        fast(x[..., :36, :44])


def test_a_library_user_gets_the_fast_path_through_run_mode(tmp_path, monkeypatch):
    """A model loaded through the public API, then run_mode, with no preparation call: the allocator
    is tuned before the first CPU pass, the weights end in channels_last, and every mode equals the
    NCHW reference path to float32 round-off on an image nothing was fitted to."""
    from invdn.inference import modes
    from invdn.inference.modes import image_generator, prepare_for_inference, run_mode
    from invdn.models import InvDN, load_model

    calls = []
    monkeypatch.setattr(modes, "tune_allocator", lambda: calls.append(1) or True)
    torch.manual_seed(7)
    ref = prepare_for_inference(InvDN(inv_blocks=2), "float32", channels_last=False)
    path = tmp_path / "w.pth"
    torch.save(ref.state_dict(), path)  # an official-style state dict
    model, _ = load_model(path)
    x = torch.rand(1, 3, 20, 28, generator=torch.Generator().manual_seed(8))
    for mode in ("single", "mc", "x8"):
        got = run_mode(model, x, [image_generator(0, "img")], mode, 3)
        want = run_mode(ref, x, [image_generator(0, "img")], mode, 3)
        torch.testing.assert_close(got, want, rtol=0, atol=1e-5)
    assert model.channels_last and not ref.channels_last
    assert calls, "reverse_samples did not tune the allocator on the CPU"
