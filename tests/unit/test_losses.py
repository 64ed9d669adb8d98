import math

import numpy as np
import pytest
import torch

import invdn.losses as losses
from invdn.config import schema
from invdn.losses import (RECONSTRUCTION_LOSSES, Objective, charbonnier, gradient_loss, sobel_gradients, ssim_loss,
                          sum_absolute_error, sum_squared_error)
from invdn.models import InvDN


def test_sum_squared_error_by_hand():
    x = torch.tensor([[[[0.0, 0.0]]], [[[1.0, 1.0]]]])        # (2, 1, 1, 2)
    t = torch.tensor([[[[3.0, 4.0]]], [[[1.0, 3.0]]]])
    # sample 1: 9 + 16 = 25; sample 2: 0 + 4 = 4; mean over the batch = 14.5
    assert sum_squared_error(x, t).item() == 14.5


def test_charbonnier_by_hand():
    x = torch.zeros(1, 1, 1, 2, dtype=torch.float64)
    t = torch.tensor([[[[3.0, 0.0]]]], dtype=torch.float64)
    expected = math.sqrt(9 + 1e-3) + math.sqrt(1e-3)
    assert abs(charbonnier(x, t).item() - expected) < 1e-12
    assert abs(charbonnier(x, t, eps=0.5).item() - (math.sqrt(9.5) + math.sqrt(0.5))) < 1e-12


def test_objective_combines_weighted_terms_with_the_drawn_z():
    torch.manual_seed(0)
    model = InvDN(inv_blocks=1).double()
    noisy = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    clean = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    lq = torch.rand(2, 3, 4, 4, dtype=torch.float64)
    out = Objective()(model, noisy, clean, lq, torch.Generator().manual_seed(5))

    lr = model(noisy)[:, :3]
    z = torch.randn((2, 45, 4, 4), generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    restored = model(torch.cat((lr, z), 1), rev=True)
    fwd = 16 * ((lr - lq) ** 2).sum(dim=(1, 2, 3)).mean()
    back = torch.sqrt((restored - clean) ** 2 + 1e-3).sum(dim=(1, 2, 3)).mean()
    assert torch.allclose(out["forward"], fwd) and torch.allclose(out["backward"], back)
    assert torch.allclose(out["total"], fwd + back)


def test_sum_absolute_error_by_hand():
    x = torch.tensor([[[[0.0, 0.0]]], [[[1.0, 1.0]]]])        # (2, 1, 1, 2)
    t = torch.tensor([[[[3.0, -4.0]]], [[[1.0, 3.0]]]])
    # sample 1: 3 + 4 = 7; sample 2: 0 + 2 = 2; mean over the batch = 4.5
    assert sum_absolute_error(x, t).item() == 4.5


def test_schema_offers_exactly_the_implemented_reconstruction_losses():
    train = schema()["properties"]["train"]["properties"]
    for key in ("forward_loss", "backward_loss"):
        assert set(train[key]["enum"]) == set(RECONSTRUCTION_LOSSES), key


def _images(seed: int, shape=(2, 3, 8, 9)) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_gradient_loss_of_identical_images_is_zero():
    x = _images(0)
    assert gradient_loss(x, x.clone()).item() == 0.0


def test_gradient_loss_of_a_constant_offset_comes_from_the_zero_padded_border_only():
    x = _images(1, (2, 3, 4, 5))
    c = 0.25
    gx, gy = sobel_gradients(x + c - x)
    assert torch.all(gx[..., 1:-1, 1:-1].abs() < 1e-12) and torch.all(gy[..., 1:-1, 1:-1].abs() < 1e-12)
    # By hand, per channel: the zero padding makes a border column respond with 3c at its two
    # corners and 4c elsewhere, 4c (2H - 1) over both columns for x; 4c (2W - 1) over both rows for y.
    h, w = 4, 5
    expected = 4 * c * ((2 * h - 1) + (2 * w - 1)) / (h * w)
    assert abs(gradient_loss(x + c, x).item() - expected) < 1e-12


def test_gradient_loss_of_one_impulse_by_hand():
    a = 0.5
    x = torch.zeros(2, 3, 3, 3, dtype=torch.float64)
    x[1, 2, 1, 1] = a
    gx, gy = sobel_gradients(x)
    # The impulse's responses are the (flipped) Sobel kernels, in its own sample and channel only.
    assert torch.equal(gx[1, 2].abs(), a * torch.tensor([[1.0, 0, 1], [2, 0, 2], [1, 0, 1]], dtype=torch.float64))
    assert torch.equal(gy[1, 2].abs(), a * torch.tensor([[1.0, 2, 1], [0, 0, 0], [1, 2, 1]], dtype=torch.float64))
    assert gx.abs().sum() == gx[1, 2].abs().sum() and gy.abs().sum() == gy[1, 2].abs().sum()
    # Each direction: sum |kernel| = 8, times a, averaged over the 2 x 3 x 3 x 3 = 54 responses.
    assert abs(gradient_loss(x, torch.zeros_like(x)).item() - 2 * 8 * a / 54) < 1e-15


def _ssim_loss_reference(x: np.ndarray, y: np.ndarray) -> float:
    """Loops over 3x3 windows of the reflect-padded images: mean of clamp((1 - SSIM) / 2, 0, 1)."""
    c1, c2 = 0.01**2, 0.03**2
    pad = ((0, 0), (0, 0), (1, 1), (1, 1))
    xp, yp = np.pad(x, pad, mode="reflect"), np.pad(y, pad, mode="reflect")
    n, c, h, w = x.shape
    out = np.empty(x.shape)
    for idx in np.ndindex(n, c, h, w):
        b, ch, i, j = idx
        wx, wy = xp[b, ch, i:i + 3, j:j + 3], yp[b, ch, i:i + 3, j:j + 3]
        mx, my = wx.mean(), wy.mean()
        vx, vy, cov = ((wx - mx) ** 2).mean(), ((wy - my) ** 2).mean(), ((wx - mx) * (wy - my)).mean()
        s = (2 * mx * my + c1) * (2 * cov + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
        out[idx] = min(max((1 - s) / 2, 0.0), 1.0)
    return float(out.mean())


def test_ssim_loss_is_zero_for_identical_images_positive_otherwise_and_symmetric():
    x, y = _images(2), _images(3)
    assert ssim_loss(x, x.clone()).item() == 0.0
    assert ssim_loss(x, y).item() > 0
    assert ssim_loss(x, y).item() == ssim_loss(y, x).item()
    assert ssim_loss(x, (x + 0.01).clamp(0, 1)).item() < ssim_loss(x, y).item()


def test_ssim_loss_matches_a_window_by_window_reference():
    x = _images(4, (1, 2, 5, 6))
    y = (x + 0.2 * _images(5, (1, 2, 5, 6)) - 0.1).clamp(0, 1)
    expected = _ssim_loss_reference(x.numpy(), y.numpy())
    assert abs(ssim_loss(x, y).item() - expected) < 1e-12
    # An anti-correlated pair: SSIM < 0 in its windows, so the halved loss exceeds 1/2.
    anti = ssim_loss(x, 1 - x).item()
    assert anti > 0.5 and abs(anti - _ssim_loss_reference(x.numpy(), 1 - x.numpy())) < 1e-12


@pytest.mark.parametrize("loss", [gradient_loss, ssim_loss])
def test_extra_losses_refuse_mismatched_shapes(loss):
    with pytest.raises(ValueError, match=r"\(1, 3, 8, 8\) and \(1, 3, 8, 9\)"):
        loss(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9))


@pytest.mark.parametrize("loss", [gradient_loss, ssim_loss])
def test_extra_losses_pass_gradients_to_the_restored_image(loss):
    x = _images(6).requires_grad_()
    loss(x, _images(7)).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def _batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(2, 3, 16, 16, generator=g), torch.rand(2, 3, 16, 16, generator=g),
            torch.rand(2, 3, 4, 4, generator=g))


def test_objective_with_zero_extra_weights_is_the_old_objective_bit_for_bit(monkeypatch):
    torch.manual_seed(0)
    model = InvDN(inv_blocks=1)
    noisy, clean, lq = _batch()
    # The old objective, restated: 16 x l2 forward + 1 x Charbonnier backward.
    lr = model(noisy)[:, :3]
    z = torch.randn((2, 45, 4, 4), generator=torch.Generator().manual_seed(5))
    restored = model(torch.cat((lr, z), 1), rev=True)
    fwd, back = 16.0 * sum_squared_error(lr, lq), 1.0 * charbonnier(restored, clean, 1e-3)

    def refuse(*args):
        raise AssertionError("an extra loss was computed with weight 0")

    monkeypatch.setattr(losses, "gradient_loss", refuse)
    monkeypatch.setattr(losses, "ssim_loss", refuse)
    for objective in (Objective(), Objective(lambda_gradient=0.0, lambda_ssim=0.0)):
        out = objective(model, noisy, clean, lq, torch.Generator().manual_seed(5))
        assert list(out) == ["forward", "backward", "total"]
        assert torch.equal(out["forward"], fwd) and torch.equal(out["backward"], back)
        assert torch.equal(out["total"], fwd + back)


@pytest.mark.parametrize("lambda_gradient,lambda_ssim", [(0.1, 0.0), (0.0, 1.0), (0.1, 1.0)])
def test_objective_adds_the_weighted_extra_terms(lambda_gradient, lambda_ssim):
    torch.manual_seed(0)
    model = InvDN(inv_blocks=1).double()
    noisy, clean, lq = (t.double() for t in _batch(1))
    objective = Objective(lambda_gradient=lambda_gradient, lambda_ssim=lambda_ssim)
    out = objective(model, noisy, clean, lq, torch.Generator().manual_seed(5))

    lr = model(noisy)[:, :3]
    z = torch.randn((2, 45, 4, 4), generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    restored = model(torch.cat((lr, z), 1), rev=True)
    expected = {"forward": 16 * sum_squared_error(lr, lq), "backward": charbonnier(restored, clean)}
    if lambda_gradient:
        expected["gradient"] = lambda_gradient * gradient_loss(restored, clean)
    if lambda_ssim:
        expected["ssim"] = lambda_ssim * ssim_loss(restored, clean)
    assert list(out) == [*expected, "total"]
    for part, value in expected.items():
        assert torch.allclose(out[part], value, rtol=1e-12, atol=0), part
        assert out[part] > 0, part
    assert torch.allclose(out["total"], sum(expected.values()), rtol=1e-12, atol=0)

    out["total"].backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_objective_with_l1_losses():
    torch.manual_seed(0)
    model = InvDN(inv_blocks=1).double()
    noisy, clean, lq = (t.double() for t in _batch(2))
    out = Objective(forward_loss="l1", backward_loss="l1")(model, noisy, clean, lq, torch.Generator().manual_seed(5))
    lr = model(noisy)[:, :3]
    z = torch.randn((2, 45, 4, 4), generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    restored = model(torch.cat((lr, z), 1), rev=True)
    assert torch.allclose(out["forward"], 16 * (lr - lq).abs().sum(dim=(1, 2, 3)).mean())
    assert torch.allclose(out["backward"], (restored - clean).abs().sum(dim=(1, 2, 3)).mean())
