"""Memory-saving reversible backpropagation gives the gradients of ordinary autograd."""
import copy

import pytest
import torch

from invdn.losses import Objective
from invdn.models import Architecture, InvDN


def _pair(arch: Architecture, seed: int = 0) -> tuple[InvDN, InvDN]:
    torch.manual_seed(seed)
    plain = InvDN(arch).double()
    # perturb every weight so no subnet is the identity (dense subnets start at exactly zero)
    with torch.no_grad():
        for p in plain.parameters():
            p.add_(0.05 * torch.randn_like(p))
    saving = copy.deepcopy(plain)
    saving.memory_saving = True
    return plain, saving


def _batch(n=2, size=16, seed=1):
    g = torch.Generator().manual_seed(seed)
    noisy = torch.rand(n, 3, size, size, generator=g, dtype=torch.float64)
    clean = torch.rand(n, 3, size, size, generator=g, dtype=torch.float64)
    lq = torch.rand(n, 3, size // 4, size // 4, generator=g, dtype=torch.float64)
    return noisy, clean, lq


def _grads(model: InvDN) -> dict[str, torch.Tensor]:
    return {k: p.grad.clone() for k, p in model.named_parameters()}


@pytest.mark.parametrize("transform,subnet", [("haar", "resnet"), ("squeeze", "densenet")])
def test_objective_gradients_equal_ordinary_autograd(transform, subnet):
    plain, saving = _pair(Architecture(inv_blocks=(2, 3), transform=transform, subnet=subnet))
    noisy, clean, lq = _batch()
    objective = Objective()
    losses = {}
    for name, model in (("plain", plain), ("saving", saving)):
        out = objective(model, noisy, clean, lq, torch.Generator().manual_seed(7))
        out["total"].backward()
        losses[name] = out["total"].item()
    assert losses["plain"] == pytest.approx(losses["saving"], rel=1e-12)
    gp, gs = _grads(plain), _grads(saving)
    assert gp.keys() == gs.keys()
    for k in gp:
        torch.testing.assert_close(gs[k], gp[k], rtol=1e-5, atol=1e-8, msg=k)


@pytest.mark.parametrize("rev", [False, True])
def test_input_gradient_equal_in_both_directions(rev):
    plain, saving = _pair(Architecture(inv_blocks=2))
    x = torch.rand(2, 48 if rev else 3, 4 if rev else 16, 4 if rev else 16, dtype=torch.float64)
    weight = torch.randn_like(plain(x, rev=rev))
    grads = []
    for model in (plain, saving):
        xi = x.clone().requires_grad_(True)
        (model(xi, rev=rev) * weight).sum().backward()
        grads.append(xi.grad)
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-5, atol=1e-10)


def test_outputs_are_identical_and_no_grad_path_is_unchanged():
    plain, saving = _pair(Architecture(inv_blocks=2))
    x = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    with torch.no_grad():
        assert torch.equal(plain(x), saving(x))
    assert torch.equal(plain(x), saving(x))


def test_adam_trajectory_matches_over_several_steps():
    plain, saving = _pair(Architecture(inv_blocks=2))
    objective = Objective()
    opts = [torch.optim.Adam(m.parameters(), lr=1e-3) for m in (plain, saving)]
    for step in range(5):
        noisy, clean, lq = _batch(seed=10 + step)
        for model, opt in zip((plain, saving), opts):
            opt.zero_grad()
            objective(model, noisy, clean, lq, torch.Generator().manual_seed(step))["total"].backward()
            opt.step()
    for (k, a), b in zip(plain.state_dict().items(), saving.state_dict().values()):
        torch.testing.assert_close(b, a, rtol=1e-7, atol=1e-9, msg=k)


def test_frozen_parameters_get_no_gradient():
    plain, saving = _pair(Architecture(inv_blocks=1))
    saving.operations[1].F.conv1.weight.requires_grad_(False)
    noisy, clean, lq = _batch()
    Objective()(saving, noisy, clean, lq, torch.Generator().manual_seed(0))["total"].backward()
    assert saving.operations[1].F.conv1.weight.grad is None
    assert saving.operations[1].F.conv2.weight.grad is not None


@pytest.mark.parametrize("rev", [False, True])
def test_coupling_shortcut_equals_generic_rebuild(rev):
    from invdn.models.reversible import rebuild_and_backward

    plain, _ = _pair(Architecture(inv_blocks=1))
    block = plain.operations[1]
    params = [p for p in block.parameters()]
    g = torch.Generator().manual_seed(3)
    y = torch.randn(2, 12, 6, 6, generator=g, dtype=torch.float64)
    grad_y = torch.randn(2, 12, 6, 6, generator=g, dtype=torch.float64)
    x1, gx1, gp1 = block.rebuild_and_backward(y, grad_y, rev, params)
    x2, gx2, gp2 = rebuild_and_backward(block, y, grad_y, rev, params)
    torch.testing.assert_close(x1, x2, rtol=0, atol=1e-12)
    torch.testing.assert_close(gx1, gx2, rtol=1e-10, atol=1e-12)
    for a, b in zip(gp1, gp2):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
