import math

import torch

from invdn.losses import Objective, charbonnier, sum_squared_error
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
