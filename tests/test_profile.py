import pytest
import torch

from invdn.models import InvDN
from invdn.profile import count_flops, profile


def subnet_macs(cin: int, cout: int, pixels: int, f: int = 64) -> int:
    return pixels * 9 * (cin * f + f * f + (cin + f) * cout)


def invdn_macs(blocks, size: int, channels: int = 3) -> int:
    """Multiply-accumulates of forward + reverse, counted by hand: each coupling block runs F, G, H
    once per direction; each Haar (or its transpose) reads a 2x2 window per output value."""
    macs, c, h = 0, channels, size
    for n in blocks:
        haar = 4 * c * h * h
        c, h = 4 * c, h // 2
        rest = c - channels
        per_block = subnet_macs(rest, channels, h * h) + 2 * subnet_macs(channels, rest, h * h)
        macs += 2 * (n * per_block + haar)
    return macs


@pytest.mark.parametrize("down_blocks,inv_blocks,size", [(2, 8, 256), (1, 2, 64), (3, 1, 64)])
def test_flop_count_equals_the_hand_count(down_blocks, inv_blocks, size):
    model = InvDN(down_blocks=down_blocks, inv_blocks=inv_blocks)
    assert count_flops(model, size) == 2 * invdn_macs([inv_blocks] * down_blocks, size)


def test_profile_reports_consistent_units():
    torch.manual_seed(0)
    p = profile(InvDN(inv_blocks=1), size=32, repeats=1)
    assert p.gflops == pytest.approx(2 * p.gmac) and p.parameters == InvDN(inv_blocks=1).num_parameters()
    assert p.seconds_per_megapixel == pytest.approx(p.seconds_per_image / (32 * 32 / 1e6))
    assert p.seconds_per_image > 0 and p.device == "cpu"
