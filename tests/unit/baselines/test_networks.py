"""Learned baseline networks: shapes, hand-counted parameters and MACs, the blind spot, losses."""
import pytest
import torch

from baselines.networks import (NETWORKS, BlindSpotNet, DnCNN, UNet, count_macs, count_parameters,
                                training_loss)

SMALL = {"dncnn": {"depth": 4, "features": 8}, "unet": {"levels": 3, "features": 4},
         "blind_spot": {"features": 8, "blocks": 2}}


def dncnn_parameters(depth: int, f: int, c: int = 3) -> int:
    """First conv with bias; middle convs without bias, each followed by BatchNorm (weight + bias);
    last conv without bias (the authors' PyTorch layout)."""
    return (9 * c * f + f) + (depth - 2) * (9 * f * f + 2 * f) + 9 * f * c


def dncnn_macs(depth: int, f: int, size: int, c: int = 3) -> int:
    return size * size * 9 * (c * f + (depth - 2) * f * f + f * c)


def test_registry_names_and_supervision():
    assert NETWORKS.names() == ["blind_spot", "dncnn", "unet"]
    assert {n: NETWORKS.get(n).supervision for n in NETWORKS.names()} == {
        "blind_spot": "noisy_only", "dncnn": "paired", "unet": "paired"}
    with pytest.raises(ValueError, match="known: blind_spot, dncnn, unet"):
        NETWORKS.get("ffdnet")


@pytest.mark.parametrize("name", ["dncnn", "unet", "blind_spot"])
@pytest.mark.parametrize("h,w", [(37, 50), (5, 3)])
def test_shape_is_preserved_for_odd_and_tiny_sizes(name, h, w):
    torch.manual_seed(0)
    net = NETWORKS.get(name)(**SMALL[name]).eval()
    noisy = torch.rand(2, 3, h, w)
    with torch.no_grad():
        out = net(noisy)
    assert out.shape == noisy.shape and out.dtype == noisy.dtype and torch.isfinite(out).all()


def test_unet_is_residual_and_crops_its_padding_back():
    # a zero output convolution leaves exactly the skip connection: noisy in, noisy out
    net = UNet(features=4)
    torch.nn.init.zeros_(net.out.weight)
    noisy = torch.rand(1, 3, 13, 21)
    assert torch.equal(net(noisy), noisy)


def test_dncnn_parameter_count_matches_the_hand_formula():
    assert count_parameters(DnCNN(depth=17, features=64)) == dncnn_parameters(17, 64) == 558_400
    assert count_parameters(DnCNN(depth=5, features=16)) == dncnn_parameters(5, 16)


def test_dncnn_mac_count_matches_the_hand_formula():
    assert count_macs(DnCNN()) == dncnn_macs(17, 64, 256)
    assert count_macs(DnCNN(depth=5, features=16), size=40) == dncnn_macs(5, 16, 40)


def test_mac_count_does_not_touch_the_network():
    net = DnCNN(depth=3, features=8)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    count_macs(net, size=16)
    after = net.state_dict()
    assert all(after[k].device.type == "cpu" and torch.equal(after[k], v) for k, v in before.items())
    assert net.training


@pytest.mark.parametrize("name", ["dncnn", "unet", "blind_spot"])
def test_same_seed_gives_the_same_initialisation(name):
    states = []
    for seed in (3, 3, 4):
        torch.manual_seed(seed)
        states.append(NETWORKS.get(name)(**SMALL[name]).state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert not all(torch.equal(states[0][k], states[2][k]) for k in states[0])


def input_gradient(net: torch.nn.Module, x: torch.Tensor, c: int, i: int, j: int) -> torch.Tensor:
    """d net(x)[0, c, i, j] / d x, shape (3, H, W)."""
    x = x.clone().requires_grad_(True)
    net(x)[0, c, i, j].backward()
    return x.grad[0]


def blind_spot_net(seed: int = 0) -> BlindSpotNet:
    torch.manual_seed(seed)
    net = BlindSpotNet(features=8, blocks=2).double().eval()
    for m in net.modules():  # positive biases keep ReLUs alive, so the gradients below are dense
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.constant_(m.bias, 0.1)
    return net


PIXELS = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (0, 18), (14, 0), (15, 19), (14, 18), (7, 9)]


def test_blind_spot_output_pixel_has_zero_gradient_from_its_own_input_pixel():
    net = blind_spot_net()
    x = torch.rand(1, 3, 16, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    for c in range(3):
        for i, j in PIXELS:
            grad = input_gradient(net, x, c, i, j)
            assert torch.all(grad[:, i, j] == 0), (c, i, j)
            # the 3x3 branch reads the 8 neighbours; the 5x5 branch the ring at distance 2
            window = grad[:, max(i - 2, 0):i + 3, max(j - 2, 0):j + 3]
            assert (window != 0).sum() >= 8, (c, i, j)


def test_blind_spot_test_detects_a_leak_when_the_mask_is_removed():
    net = blind_spot_net()
    for m in net.modules():
        if hasattr(m, "mask"):
            m.mask.fill_(1)
            torch.nn.init.normal_(m.weight, std=0.3)
    x = torch.rand(1, 3, 16, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert input_gradient(net, x, 0, 7, 9)[:, 7, 9].abs().sum() > 0


def test_blind_spot_output_is_unchanged_by_its_own_input_pixel_in_train_mode():
    net = blind_spot_net().train()
    x = torch.rand(1, 3, 12, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    y = x.clone()
    y[0, :, 0, 5] += torch.tensor([0.7, -0.4, 0.9], dtype=torch.float64)
    with torch.no_grad():
        a, b = net(x), net(y)
    assert torch.equal(a[0, :, 0, 5], b[0, :, 0, 5])
    assert not torch.equal(a[0, :, 1, 5], b[0, :, 1, 5])


def test_noisy_only_loss_ignores_clean():
    net = BlindSpotNet(features=8, blocks=1)
    noisy = torch.rand(2, 3, 12, 12, generator=torch.Generator().manual_seed(0))
    losses = {training_loss(net, noisy, clean).item() for clean in (None, torch.zeros_like(noisy), noisy.flip(-1))}
    assert len(losses) == 1
    assert losses.pop() == pytest.approx(torch.mean((net(noisy) - noisy) ** 2).item(), rel=1e-6)


def test_paired_loss_is_the_mse_to_clean_and_needs_clean():
    net = DnCNN(depth=3, features=8).eval()
    gen = torch.Generator().manual_seed(0)
    noisy, clean = torch.rand(2, 3, 10, 10, generator=gen), torch.rand(2, 3, 10, 10, generator=gen)
    with torch.no_grad():
        expected = torch.mean((net(noisy) - clean) ** 2)
        assert training_loss(net, noisy, clean).item() == pytest.approx(expected.item(), rel=1e-6)
    with pytest.raises(ValueError, match="paired training needs clean"):
        training_loss(net, noisy)
    with pytest.raises(ValueError, match="paired training needs clean"):
        training_loss(net, noisy, clean[..., :5])


def test_a_few_adam_steps_reduce_the_dncnn_training_loss():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    clean = torch.linspace(0.2, 0.8, 16).expand(4, 3, 16, 16).contiguous()
    noisy = clean + 0.1 * torch.randn(clean.shape, generator=gen)
    net = DnCNN(depth=4, features=16)
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(30):
        optimiser.zero_grad()
        loss = training_loss(net, noisy, clean)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses
