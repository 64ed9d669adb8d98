import pytest
import torch
import yaml

from invdn.models import Architecture, HaarTransform, InvDN, TRANSFORMS
from invdn.models.coupling import CouplingBlock
from invdn.models.coupling import halves
from invdn.models.subnets import ResidualSubnet

from helpers import REPO, invdn_params, residual_subnet_params


def test_default_parameter_count_matches_formula_and_paper():
    model = InvDN()
    assert model.num_parameters() == invdn_params(3, [8, 8]) == 2_640_960
    paper = yaml.safe_load((REPO / "results" / "reference_numbers.yaml").read_text())["table2"][0]
    assert round(model.num_parameters() / 1e6, 2) == paper["parameters_m"]


@pytest.mark.parametrize("down_blocks,inv_blocks", [(1, 8), (2, [3, 2]), (3, 2)])
def test_parameter_count_of_variants(down_blocks, inv_blocks):
    model = InvDN(down_blocks=down_blocks, inv_blocks=inv_blocks)
    blocks = inv_blocks if isinstance(inv_blocks, list) else [inv_blocks] * down_blocks
    assert model.num_parameters() == invdn_params(3, blocks)


@pytest.mark.parametrize("down_blocks,inv_blocks", [(2, 8), (1, 2), (3, 1)])
def test_invertible_to_float64_roundoff(down_blocks, inv_blocks):
    torch.manual_seed(0)
    model = InvDN(down_blocks=down_blocks, inv_blocks=inv_blocks).double().eval()
    x = torch.rand(2, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        latent = model(x)
        assert latent.shape == (2, 3 * 4**down_blocks, 32 // 2**down_blocks, 32 // 2**down_blocks)
        back = model(latent, rev=True)
        # and the other way round: a latent with z ~ N(0, I) survives reverse-then-forward
        z = torch.randn_like(latent)
        again = model(model(z, rev=True))
    assert (back - x).abs().max().item() < 1e-12
    assert (again - z).abs().max().item() < 1e-9


def test_haar_lowpass_is_2x2_mean_with_subband_major_channels():
    x = torch.rand(1, 3, 4, 6, dtype=torch.float64)
    out = HaarTransform(3).double()(x)
    mean = torch.nn.functional.avg_pool2d(x, 2)
    assert torch.allclose(out[:, :3], mean, atol=1e-15)
    # band 1 of channel c is (a - b + c - d) / 4 over each 2x2 block [[a, b], [c, d]]
    a, b, c, d = x[..., 0::2, 0::2], x[..., 0::2, 1::2], x[..., 1::2, 0::2], x[..., 1::2, 1::2]
    assert torch.allclose(out[:, 3:6], (a - b + c - d) / 4, atol=1e-15)
    assert torch.allclose(out[:, 6:9], (a + b - c - d) / 4, atol=1e-15)
    assert torch.allclose(out[:, 9:12], (a - b - c + d) / 4, atol=1e-15)


def test_haar_weights_are_a_buffer_in_the_state_dict_with_the_official_name():
    model = InvDN()
    keys = model.state_dict().keys()
    assert "operations.0.haar_weights" in keys and "operations.9.haar_weights" in keys
    assert "operations.1.F.conv1.weight" in keys
    assert model.state_dict()["operations.0.haar_weights"].shape == (12, 1, 2, 2)


def test_coupling_block_forward_matches_definition():
    torch.manual_seed(1)
    block = CouplingBlock(12, 3, ResidualSubnet).double()
    x = torch.randn(1, 12, 8, 8, dtype=torch.float64)
    y = block(x)
    y_a = x[:, :3] + block.F(x[:, 3:])
    s = torch.sigmoid(block.H(y_a)) * 2 - 1
    y_b = x[:, 3:] * torch.exp(s) + block.G(y_a)
    assert torch.allclose(y, torch.cat((y_a, y_b), 1), atol=1e-14)


def test_odd_sizes_and_unknown_names_are_refused():
    with pytest.raises(ValueError, match="divisible by 4"):
        InvDN(inv_blocks=1)(torch.rand(1, 3, 30, 32))
    with pytest.raises(ValueError, match="unknown transform 'wavelet'.*haar"):
        InvDN(transform="wavelet")
    with pytest.raises(ValueError, match="down_blocks is 2"):
        InvDN(inv_blocks=[8, 8, 8])


def test_architecture_round_trips_through_a_dict():
    arch = Architecture(down_blocks=2, inv_blocks=(4, 6))
    assert Architecture.from_dict(arch.to_dict()) == arch
    assert "haar" in TRANSFORMS.names()


def test_residual_subnet_is_the_official_concatenation_conv():
    """conv3 applied as two convolutions over its weight's input slices is conv3(cat(x, h))."""
    torch.manual_seed(2)
    net = ResidualSubnet(9, 3).double()
    x = torch.randn(2, 9, 10, 12, dtype=torch.float64)
    h = net.act(net.conv2(net.act(net.conv1(x))))
    torch.testing.assert_close(net(x), net.conv3(torch.cat((x, h), 1)), rtol=0, atol=1e-12)


@pytest.mark.parametrize("transform", ["haar", "squeeze"])
def test_transforms_keep_channels_last_and_stay_exact_under_autocast(transform):
    """A channels_last input gives channels_last sub-bands (no layout reorder before the coupling
    blocks); under bf16 autocast the transform stays float32 and bit-equal, not rounded to bf16."""
    t = TRANSFORMS.get(transform)(3)
    x = torch.rand(2, 3, 8, 10, generator=torch.Generator().manual_seed(0))
    out = t(x)
    out_cl = t(x.contiguous(memory_format=torch.channels_last))
    assert out_cl.is_contiguous(memory_format=torch.channels_last) and out.is_contiguous()
    assert torch.equal(out_cl, out)
    back = t(out_cl, rev=True)
    assert back.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(back, x, rtol=0, atol=1e-7)
    inverse = t(out, rev=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.equal(t(x), out) and torch.equal(t(out, rev=True), inverse)


def test_subnet_under_autocast_keeps_the_input_part_in_float32():
    """Under bf16 autocast the features' part is bf16 and the part from x float32: the output is
    float32 and nearer the float32 result than a subnet rounded to bf16 throughout."""
    torch.manual_seed(3)
    net = ResidualSubnet(3, 9)
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        exact = net(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = net(x)
        all_bf16 = net.to(torch.bfloat16)(x.to(torch.bfloat16)).float()
    assert mixed.dtype == torch.float32
    assert (mixed - exact).abs().max() < (all_bf16 - exact).abs().max()


def test_channels_last_model_returns_the_callers_layout_and_the_same_numbers():
    torch.manual_seed(4)
    model = InvDN(inv_blocks=2).eval()
    model.auto_layout = False  # the reference: NCHW weights
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        ref = model(x)
        assert not model.channels_last
        model.to(memory_format=torch.channels_last)
        assert model.channels_last
        out = model(x)
        back = model(out, rev=True)
    assert out.is_contiguous() and back.is_contiguous()
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)
    torch.testing.assert_close(back, x, rtol=0, atol=1e-5)


def test_the_fast_layout_is_the_default_on_cpu_and_keeps_the_numbers():
    """A plain InvDN() puts its weights in channels_last at its first CPU pass, once and in place (the
    optimizer's parameters stay the same objects); its outputs, forward and reverse, equal those of
    the NCHW reference to float32 round-off on inputs nothing was fitted to."""
    torch.manual_seed(5)
    ref = InvDN(inv_blocks=2).eval()
    ref.auto_layout = False
    with torch.no_grad():  # weights away from the init, so that every subnet matters
        for p in ref.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    model = InvDN(inv_blocks=2).eval()
    model.load_state_dict(ref.state_dict())
    params = list(model.parameters())
    assert not model.channels_last
    x = torch.rand(2, 3, 24, 32, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        out, expected = model(x), ref(x)
        assert model.channels_last and not ref.channels_last
        assert all(a is b for a, b in zip(params, model.parameters()))
        back, expected_back = model(out, rev=True), ref(expected, rev=True)
    assert out.is_contiguous() and back.is_contiguous()
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)
    torch.testing.assert_close(back, expected_back, rtol=0, atol=1e-5)
    model.auto_layout = False  # an explicit layout is then the caller's, never changed back
    model.to(memory_format=torch.contiguous_format)
    with torch.no_grad():
        model(x)
    assert not model.channels_last


@pytest.mark.parametrize("channels_last", [False, True])
def test_coupling_parts_passed_between_blocks_equal_block_by_block(channels_last):
    """InvDN hands (first, rest) from block to block without joining them; the result is each
    operation applied in turn, forward and reverse, in either memory format (the parts of a
    channels_last latent are contiguous channels_last copies, never strided views)."""
    torch.manual_seed(4)
    model = InvDN(inv_blocks=2).double().eval()
    model.auto_layout = False
    x = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    if channels_last:
        model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
        a, b = halves(x, 1)
        assert all(p.is_contiguous(memory_format=torch.channels_last) for p in (a, b))
    with torch.no_grad():
        stepwise = x
        for op in model.operations:
            stepwise = op(stepwise)
        assert torch.equal(model(x), stepwise)
        back = stepwise
        for op in reversed(model.operations):
            back = op(back, rev=True)
        assert torch.equal(model(stepwise, rev=True), back)
