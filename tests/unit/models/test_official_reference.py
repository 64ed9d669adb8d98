"""InvDN against an independent, functional statement of the official code's equations.

The reference below is written from the official definitions (Yang-Liu1082/InvDN,
``codes/models/modules/Inv_arch.py`` and ``Subnet_constructor.py``), not from our modules: it
reads an official-named state dict, computes the Haar sub-bands from explicit 2x2 sums and
differences (no convolution), and the coupling blocks and ``ResBlock`` with functional ops.
Our InvDN, loaded from the same file by ``load_model`` (architecture read off the file, no flags),
must give the same latents and reverse outputs: in float64 to 1e-9 (the same equations), and in
float32 to 1e-5 of the output's magnitude. The random weights and z_hf below drive the reverse
output to about 700, where the official float32 code itself is 8e-4 away from its float64 result: an
absolute 1e-5 there would ask two float32 programs to agree to the last bit, which only one
summation order can.
"""
import torch
import torch.nn.functional as F

from invdn.models import Architecture, InvDN
from invdn.models import load_model


def _haar(x):
    # official filters: band 0 all ones; band 1 -1 at (0,1),(1,1); band 2 -1 at (1,0),(1,1);
    # band 3 -1 at (1,0),(0,1); forward divides by 4; output band-major [band0 of every channel, ...]
    a, b, c, d = x[..., 0::2, 0::2], x[..., 0::2, 1::2], x[..., 1::2, 0::2], x[..., 1::2, 1::2]
    return torch.cat(((a + b + c + d) / 4, (a - b + c - d) / 4, (a + b - c - d) / 4, (a - b - c + d) / 4), 1)


def _haar_inverse(y):
    c = y.shape[1] // 4
    b0, b1, b2, b3 = y[:, :c], y[:, c:2 * c], y[:, 2 * c:3 * c], y[:, 3 * c:]
    n, _, h, w = b0.shape
    x = y.new_empty(n, c, 2 * h, 2 * w)
    # transposed convolution with the unscaled filters: each pixel is the signed sum of the bands
    x[..., 0::2, 0::2] = b0 + b1 + b2 + b3
    x[..., 0::2, 1::2] = b0 - b1 + b2 - b3
    x[..., 1::2, 0::2] = b0 + b1 - b2 - b3
    x[..., 1::2, 1::2] = b0 - b1 - b2 + b3
    return x


def _resblock(sd, prefix, x):
    def conv(k, t):
        return F.conv2d(t, sd[f"{prefix}.conv{k}.weight"], sd[f"{prefix}.conv{k}.bias"], padding=1)

    h = F.leaky_relu(conv(1, x), 0.2)
    h = F.leaky_relu(conv(2, h), 0.2)
    return conv(3, torch.cat((x, h), 1))


def _coupling(sd, i, x, rev, split=3, clamp=1.0):
    x1, x2 = x[:, :split], x[:, split:]
    p = f"operations.{i}"

    def s(t):
        return clamp * (torch.sigmoid(_resblock(sd, f"{p}.H", t)) * 2 - 1)

    if not rev:
        y1 = x1 + _resblock(sd, f"{p}.F", x2)
        y2 = x2 * torch.exp(s(y1)) + _resblock(sd, f"{p}.G", y1)
    else:
        y2 = (x2 - _resblock(sd, f"{p}.G", x1)) / torch.exp(s(x1))
        y1 = x1 - _resblock(sd, f"{p}.F", y2)
    return torch.cat((y1, y2), 1)


def _official(sd, x, rev=False):
    count = 1 + max(int(k.split(".")[1]) for k in sd)
    order = range(count - 1, -1, -1) if rev else range(count)
    for i in order:
        if f"operations.{i}.haar_weights" in sd:
            x = _haar_inverse(x) if rev else _haar(x)
        else:
            x = _coupling(sd, i, x, rev)
    return x


def _official_state_dict(seed: int) -> dict[str, torch.Tensor]:
    """A state dict in the official naming with random (trained-looking) weights."""
    torch.manual_seed(seed)
    sd = InvDN(Architecture()).state_dict()
    g = torch.Generator().manual_seed(seed + 1)
    return {k: v if k.endswith("haar_weights") else v + 0.02 * torch.randn(v.shape, generator=g) for k, v in sd.items()}


def test_latents_and_reverse_outputs_equal_the_official_equations(tmp_path):
    sd = _official_state_dict(0)
    path = tmp_path / "InvDN_ResUnit_x4.pth"
    torch.save({f"module.{k}": v for k, v in sd.items()}, path)
    ours, _ = load_model(path)
    x = torch.rand(2, 3, 64, 48, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        latent, reference = ours(x), _official(sd, x)
        torch.testing.assert_close(latent, reference, rtol=0, atol=1e-5)
        lr = latent[:, :3]
        z_hf = torch.randn(latent[:, 3:].shape, generator=torch.Generator().manual_seed(3))
        y = torch.cat((lr, z_hf), 1)
        reverse = _official(sd, y, rev=True)
        torch.testing.assert_close(ours(y, rev=True), reverse, rtol=0, atol=1e-5 * reverse.abs().max().item())
        sd64 = {k: v.double() for k, v in sd.items()}
        ours64 = ours.double()
        torch.testing.assert_close(ours64(x.double()), _official(sd64, x.double()), rtol=0, atol=1e-9)
        torch.testing.assert_close(ours64(y.double(), rev=True), _official(sd64, y.double(), rev=True), rtol=0, atol=1e-9)


def test_reference_haar_is_the_filter_definition():
    """The explicit sums above are the official grouped convolution with filters / 4."""
    x = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    w = torch.ones(4, 1, 2, 2, dtype=torch.float64)
    w[1, 0, 0, 1] = w[1, 0, 1, 1] = w[2, 0, 1, 0] = w[2, 0, 1, 1] = w[3, 0, 1, 0] = w[3, 0, 0, 1] = -1
    conv = F.conv2d(x, torch.cat([w] * 3), stride=2, groups=3) / 4  # channel-major (C, 4)
    band_major = conv.reshape(1, 3, 4, 4, 4).transpose(1, 2).reshape(1, 12, 4, 4)
    torch.testing.assert_close(_haar(x), band_major, rtol=0, atol=1e-15)
    torch.testing.assert_close(_haar_inverse(_haar(x)), x, rtol=0, atol=1e-15)
