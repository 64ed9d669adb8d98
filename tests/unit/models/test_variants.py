"""The non-default InvDN components: ``transform: squeeze`` and ``subnet: densenet``."""
import math

import pytest
import torch

from invdn.models import SUBNETS, TRANSFORMS, DenseSubnet, InvDN, SqueezeTransform


# ---------------------------------------------------------------- squeeze


def test_squeeze_round_trip_is_exact():
    x = torch.randn(2, 3, 16, 12, dtype=torch.float64)
    t = SqueezeTransform(3)
    y = t(x)
    assert y.shape == (2, 12, 8, 6) and t.out_channels == 12
    # a pure permutation: not even round-off
    assert torch.equal(t(y, rev=True), x)


def test_squeeze_channel_order_is_position_major_like_haar():
    x = torch.rand(1, 3, 4, 6, dtype=torch.float64)
    y = SqueezeTransform(3)(x)
    c = 3
    assert torch.equal(y[:, 0:c], x[..., 0::2, 0::2])  # top-left of each 2x2 block = the "lr" part
    assert torch.equal(y[:, c : 2 * c], x[..., 0::2, 1::2])  # top-right
    assert torch.equal(y[:, 2 * c : 3 * c], x[..., 1::2, 0::2])  # bottom-left
    assert torch.equal(y[:, 3 * c : 4 * c], x[..., 1::2, 1::2])  # bottom-right


def test_squeeze_refuses_odd_sizes_and_wrong_channels():
    t = SqueezeTransform(3)
    with pytest.raises(ValueError, match="even H and W"):
        t(torch.rand(1, 3, 5, 4))
    with pytest.raises(ValueError, match="even H and W"):
        t(torch.rand(1, 3, 4, 7))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        t(torch.rand(1, 4, 4, 4))
    with pytest.raises(ValueError, match="expects 12 channels"):
        t(torch.rand(1, 3, 4, 4), rev=True)


def test_squeeze_has_no_parameters_or_buffers():
    t = SqueezeTransform(3)
    assert list(t.parameters()) == [] and len(t.state_dict()) == 0


# ---------------------------------------------------------------- dense subnet


def dense_subnet_params(cin: int, cout: int, g: int = 32) -> int:
    """Conv weights + biases of the official DenseBlock, counted layer by layer."""
    conv1 = 3 * 3 * cin * g + g
    conv2 = 3 * 3 * (cin + g) * g + g
    conv3 = 3 * 3 * (cin + 2 * g) * g + g
    conv4 = 3 * 3 * (cin + 3 * g) * g + g
    conv5 = 3 * 3 * (cin + 4 * g) * cout + cout
    return conv1 + conv2 + conv3 + conv4 + conv5


@pytest.mark.parametrize("cin,cout", [(3, 9), (9, 3), (45, 3)])
def test_dense_subnet_shape_and_parameter_count(cin, cout):
    net = DenseSubnet(cin, cout)
    assert net(torch.rand(1, cin, 6, 5)).shape == (1, cout, 6, 5)
    assert sum(p.numel() for p in net.parameters()) == dense_subnet_params(cin, cout)


def test_fresh_dense_subnet_outputs_exact_zeros():
    torch.manual_seed(0)
    net = DenseSubnet(9, 3)
    out = net(torch.randn(2, 9, 8, 8))
    assert torch.equal(out, torch.zeros_like(out))
    assert torch.equal(net.conv5.weight, torch.zeros_like(net.conv5.weight))
    assert torch.equal(net.conv5.bias, torch.zeros_like(net.conv5.bias))


def test_dense_subnet_official_xavier_times_0p1_init():
    torch.manual_seed(0)
    net = DenseSubnet(45, 3)
    for conv in (net.conv1, net.conv2, net.conv3, net.conv4):
        assert torch.equal(conv.bias, torch.zeros_like(conv.bias))
    # xavier_normal_ std = sqrt(2 / (fan_in + fan_out)), fans include the 3x3 receptive field
    w = net.conv2.weight  # (32, 45 + 32, 3, 3): 22,176 samples, so the estimate is tight
    fan_in, fan_out = w.shape[1] * 9, w.shape[0] * 9
    expected = 0.1 * math.sqrt(2.0 / (fan_in + fan_out))
    assert expected / 1.5 < w.std().item() < expected * 1.5


def test_dense_subnet_state_dict_uses_official_names():
    keys = set(DenseSubnet(3, 9).state_dict())
    assert keys == {f"conv{k}.{p}" for k in range(1, 6) for p in ("weight", "bias")}


def test_variants_are_registered():
    assert TRANSFORMS.get("squeeze") is SqueezeTransform
    assert SUBNETS.get("densenet") is DenseSubnet


# ---------------------------------------------------------------- whole networks


def perturb_(model: torch.nn.Module, seed: int, scale: float = 0.02) -> None:
    """Add seeded noise to every parameter: a fresh densenet model is the identity (zero conv5)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype))


def transforms_only(transform: str, x: torch.Tensor, down_blocks: int) -> torch.Tensor:
    """The latent of an InvDN without coupling blocks: the transform applied down_blocks times."""
    for _ in range(down_blocks):
        x = TRANSFORMS.get(transform)(x.shape[1]).to(x.dtype)(x)
    return x


@pytest.mark.parametrize("down_blocks", [1, 2])
@pytest.mark.parametrize("subnet", ["resnet", "densenet"])
@pytest.mark.parametrize("transform", ["haar", "squeeze"])
def test_every_variant_is_invertible_to_float64_roundoff(transform, subnet, down_blocks):
    torch.manual_seed(0)
    model = InvDN(transform=transform, subnet=subnet, down_blocks=down_blocks, inv_blocks=2).double().eval()
    x = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    plain = transforms_only(transform, x, down_blocks)
    if subnet == "densenet":
        with torch.no_grad():
            # fresh: conv5 is zero, so every coupling block is exactly the identity ...
            assert torch.equal(model(x), plain)
        # ... and the round trip would test only the transforms; perturb so the couplings act
        perturb_(model, seed=1)
    s = 2**down_blocks
    with torch.no_grad():
        latent = model(x)
        assert latent.shape == (1, 3 * 4**down_blocks, 16 // s, 16 // s)
        assert (latent - plain).abs().max().item() > 1e-3  # the coupling blocks do something
        back = model(latent, rev=True)
        z = torch.randn_like(latent)
        again = model(model(z, rev=True))
    assert (back - x).abs().max().item() < 1e-10
    assert (again - z).abs().max().item() < 1e-8


def invdn_dense_params(channels: int, blocks: list[int]) -> int:
    """Per coupling block at a scale with c channels (split = channels):
    F = Dense(c - split -> split), G = H = Dense(split -> c - split); transforms have no parameters."""
    total, c = 0, channels
    for n in blocks:
        c *= 4
        rest = c - channels
        total += n * (dense_subnet_params(rest, channels) + 2 * dense_subnet_params(channels, rest))
    return total


@pytest.mark.parametrize("transform", ["haar", "squeeze"])
def test_densenet_parameter_count_matches_formula(transform):
    model = InvDN(transform=transform, subnet="densenet", down_blocks=2, inv_blocks=[8, 8])
    assert model.num_parameters() == invdn_dense_params(3, [8, 8])


def test_squeeze_adds_no_parameters():
    assert InvDN(transform="squeeze").num_parameters() == InvDN().num_parameters() == 2_640_960
