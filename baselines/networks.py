"""Learned baseline denoisers: DnCNN, a small U-Net and a DBSN-style blind-spot network.

Every network maps noisy (N, 3, H, W) float in [0, 1] to a denoised estimate of the same shape
(float, not clamped) for any H, W. Each class carries ``supervision``: ``"paired"`` (trained against
the clean image) or ``"noisy_only"`` (trained against the noisy image itself); ``training_loss``
picks the target from it. Constructors are registered by name in ``NETWORKS``.

Costs: ``count_parameters`` (sum of ``numel`` over parameters; BatchNorm running statistics are
buffers, not counted) and ``count_macs`` (``torch.utils.flop_counter.FlopCounterMode`` on the meta
device, FLOPs / 2; convolutions only, element-wise operations are not counted), as ``invdn.analysis.cost``.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from invdn.models.registry import Registry


def _conv(cin: int, cout: int, k: int = 3, dilation: int = 1, bias: bool = True) -> nn.Conv2d:
    """k x k convolution, stride 1, zero 'same' padding (output has the input's H, W)."""
    return nn.Conv2d(cin, cout, k, padding=dilation * (k // 2), dilation=dilation, bias=bias)


def _relu() -> nn.ReLU:
    return nn.ReLU(inplace=True)


class DnCNN(nn.Module):
    """DnCNN (Zhang et al., "Beyond a Gaussian denoiser", IEEE TIP 2017, §III, Fig. 1).

    conv3x3 + ReLU, (depth - 2) x [conv3x3 + BatchNorm + ReLU], conv3x3; residual learning: the body
    predicts the noise and ``forward`` returns ``noisy - body(noisy)``. Zero padding keeps every
    feature map at H x W (paper §III-B), so no input padding is needed.

    Layout and initialisation follow the authors' PyTorch code (cszn/DnCNN,
    ``TrainingCodes/dncnn_pytorch/main_train.py``): only the first convolution has a bias (the
    middle ones are followed by BatchNorm, the last predicts zero-mean noise); BatchNorm eps 1e-4,
    momentum 0.95 (PyTorch convention: running stats follow the last batches closely); conv weights
    ``orthogonal_``, biases 0, BatchNorm weight 1 and bias 0. (The paper's MatConvNet training used
    He et al.'s initialisation; we follow the code.)
    Parameters: 9*C*F + F + (depth-2)*(9*F*F + 2*F) + 9*F*C (558,400 for the defaults).

    BatchNorm: call ``eval()`` before evaluation. In ``train()`` mode the output for one image
    depends on the other images of the batch (batch statistics); evaluation uses running statistics.
    """

    name = "dncnn"
    label = "DnCNN"
    supervision = "paired"

    def __init__(self, depth: int = 17, features: int = 64, channels: int = 3):
        super().__init__()
        if depth < 2:
            raise ValueError(f"DnCNN depth must be >= 2 (first and last convolution), got {depth}")
        self.channels = channels
        layers: list[nn.Module] = [_conv(channels, features), _relu()]
        for _ in range(depth - 2):
            layers += [_conv(features, features, bias=False),
                       nn.BatchNorm2d(features, eps=1e-4, momentum=0.95), _relu()]
        layers.append(_conv(features, channels, bias=False))
        self.body = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.orthogonal_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        return noisy - self.body(noisy)


def _pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad bottom/right of (N, C, H, W) to H, W multiples of ``multiple``: reflect, or replicate
    where the image is too small to reflect (reflect needs padding < size)."""
    h, w = x.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode) if ph or pw else x


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(_conv(cin, cout), _relu(), _conv(cout, cout), _relu())


class UNet(nn.Module):
    """A small U-Net (after Ronneberger et al., MICCAI 2015) with a residual output.

    ``levels`` max-pool steps; widths features * 2**k at level k = 0..levels (k = levels is the
    bottleneck); two conv3x3 + ReLU per level; 2x2 stride-2 transposed convolutions up, skip
    concatenation, a final 1x1 convolution to ``channels``; ``forward`` returns
    ``noisy + net(noisy)``. H, W are reflect-padded (bottom/right) to multiples of 2**levels and the
    output cropped back. Initialisation: He-normal weights (std sqrt(2 / fan_in), the U-Net paper
    §3), zero biases.
    """

    name = "unet"
    label = "U-Net"
    supervision = "paired"

    def __init__(self, levels: int = 3, features: int = 32, channels: int = 3):
        super().__init__()
        if levels < 1:
            raise ValueError(f"UNet levels must be >= 1, got {levels}")
        self.levels, self.channels = levels, channels
        widths = [features * 2**k for k in range(levels + 1)]
        self.down = nn.ModuleList(_double_conv(cin, cout) for cin, cout in zip([channels] + widths, widths[:-1]))
        self.bottom = _double_conv(widths[-2], widths[-1])
        self.up = nn.ModuleList(nn.ConvTranspose2d(2 * w, w, 2, stride=2) for w in reversed(widths[:-1]))
        self.merge = nn.ModuleList(_double_conv(2 * w, w) for w in reversed(widths[:-1]))
        self.out = nn.Conv2d(features, channels, 1)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        h, w = noisy.shape[-2:]
        x = _pad_to_multiple(noisy, 2**self.levels)
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottom(x)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips)):
            x = merge(torch.cat((skip, up(x)), dim=1))
        return noisy + self.out(x)[..., :h, :w]


class MaskedConv2d(nn.Conv2d):
    """k x k convolution (k odd) whose centre tap is zero: output at p never reads input at p.

    The fixed ``mask`` buffer multiplies the weight in every forward, so training cannot revive the
    centre (DBSN's ``MaskConv2d``). Zero 'same' padding.
    """

    def __init__(self, cin: int, cout: int, k: int):
        if k < 3 or k % 2 == 0:
            raise ValueError(f"blind-spot kernel size must be odd and >= 3, got {k}")
        super().__init__(cin, cout, k, padding=k // 2)
        mask = torch.ones(1, 1, k, k)
        mask[..., k // 2, k // 2] = 0
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight * self.mask, self.bias)


class _DilatedBlock(nn.Module):
    """DBSN's ``Inception_block``: [1x1, 5x5 dil d], [1x1, 3x3 dil d], [1x1], each with ReLU,
    concatenated, fused by 1x1 + ReLU, plus the input, then 2 x (1x1 + ReLU). Offsets it adds to the
    receptive field are multiples of d (0 included), on both axes."""

    def __init__(self, f: int, d: int):
        super().__init__()
        self.wide = nn.Sequential(_conv(f, f, 1), _relu(), _conv(f, f, 5, dilation=d), _relu())
        self.narrow = nn.Sequential(_conv(f, f, 1), _relu(), _conv(f, f, 3, dilation=d), _relu())
        self.point = nn.Sequential(_conv(f, f, 1), _relu())
        self.fuse = _conv(3 * f, f, 1)
        self.mix = nn.Sequential(_conv(f, f, 1), _relu(), _conv(f, f, 1), _relu())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.fuse(torch.cat((self.wide(x), self.narrow(x), self.point(x)), dim=1)))
        return self.mix(h + x)


def _blind_branch(f: int, k: int, blocks: int) -> nn.Sequential:
    d = (k + 1) // 2  # dilation > k // 2: lattice steps jump over the whole masked window
    return nn.Sequential(MaskedConv2d(f, f, k), _relu(), _conv(f, f, 1), _relu(), _conv(f, f, 1), _relu(),
                         *(_DilatedBlock(f, d) for _ in range(blocks)), _conv(f, f, 1))


class BlindSpotNet(nn.Module):
    """Dilated blind-spot network after D-BSN (Wu et al., "Unpaired learning of deep image
    denoising", ECCV 2020, §3.2; official code XHWXD/DBSN ``net/backbone_net.py``, ``DBSN_Model``).

    1x1 head; one branch per kernel size k (defaults 3 and 5, as the official RGB options):
    masked k x k conv, two 1x1, ``blocks`` dilated blocks with dilation (k + 1) // 2, 1x1; the
    branches are concatenated, fused by 1x1, and three 1x1 convs (ReLU between) give ``channels``
    outputs: an estimate of the clean pixel from its neighbours only. No residual connection (it
    would pass the centre through). Kaiming-normal (fan_in) weights, zero biases (official
    ``init_weights``). The official RGB model uses 96 features and 8 blocks per branch.

    Why output p never depends on input p (offsets are input position minus output position):
    the 1x1 head and tail, ReLUs and biases add offset 0. The masked k x k conv (k = 2r + 1)
    contributes an offset a with 0 < max(|a_y|, |a_x|) <= r. Every later layer of that branch is a
    1x1 or a conv dilated by d = r + 1 (or the block's identity), so the total is a + d * m with
    m integer. a + d * m = 0 needs each component of a to be a multiple of d, and |a_i| <= r < d
    forces a = 0, which the mask removes. The fusion only takes a union of such offset sets. Zero
    padding inside the convs inserts constants, never a copy of the input; the network therefore
    does NOT reflect-pad its input (a reflected border row is a copy of pixels at offset -2i from
    row i, which lies in the receptive field of the 5x5 branch) and has no BatchNorm (train-mode
    statistics would mix every pixel into every output).

    Reproduced: D-BSN's mean estimate mu trained with L2 to the noisy input (the official "pretrain
    mu" stage). Not reproduced: the noise-level networks (sigma_mu, sigma_n), the Bayes fusion of mu
    with the noisy pixel, the log-likelihood training and the knowledge-distillation stage; nor any
    pixel-shuffle downsampling. The target E[x_p | y at other pixels] ignores y_p, so this is weaker
    than a paired denoiser even with ideal noise. Real sRGB noise (SIDD) is spatially correlated by
    demosaicing and the camera pipeline: neighbours then carry information about the noise at p,
    the network learns to reproduce part of it, and plain blind-spot networks underperform there.
    """

    name = "blind_spot"
    label = "Blind-spot (DBSN-style, noisy only)"
    supervision = "noisy_only"

    def __init__(self, features: int = 64, blocks: int = 5, kernel_sizes: tuple[int, ...] = (3, 5),
                 channels: int = 3):
        super().__init__()
        self.channels = channels
        self.head = nn.Sequential(_conv(channels, features, 1), _relu())
        self.branches = nn.ModuleList(_blind_branch(features, k, blocks) for k in kernel_sizes)
        self.fuse = _conv(len(kernel_sizes) * features, features, 1)
        self.tail = nn.Sequential(_conv(features, features, 1), _relu(), _conv(features, features, 1), _relu(),
                                  _conv(features, channels, 1))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
            if isinstance(m, MaskedConv2d):
                with torch.no_grad():
                    m.weight.mul_(m.mask)  # cosmetic: the forward masks anyway

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        h = self.head(noisy)
        return self.tail(self.fuse(torch.cat([branch(h) for branch in self.branches], dim=1)))


NETWORKS: Registry = Registry("baseline network")
for _cls in (DnCNN, UNet, BlindSpotNet):
    NETWORKS.register(_cls.name, _cls)


def _paired_target(noisy: torch.Tensor, clean: torch.Tensor | None) -> torch.Tensor:
    if clean is None or clean.shape != noisy.shape:
        found = None if clean is None else tuple(clean.shape)
        raise ValueError(f"paired training needs clean of shape {tuple(noisy.shape)}, got {found}")
    return clean


def _noisy_only_target(noisy: torch.Tensor, clean: torch.Tensor | None) -> torch.Tensor:
    return noisy


_TARGETS = {"paired": _paired_target, "noisy_only": _noisy_only_target}


def training_loss(network: nn.Module, noisy: torch.Tensor, clean: torch.Tensor | None = None) -> torch.Tensor:
    """Scalar mean squared error of ``network(noisy)`` (noisy, clean: (N, 3, H, W) float in [0, 1]).

    ``supervision == "paired"``: the target is ``clean`` (ValueError if missing or misshapen).
    ``supervision == "noisy_only"``: the target is ``noisy`` and ``clean`` is ignored. With
    y = x + n, E|f(y)_p - y_p|^2 = E|f(y)_p - x_p|^2 + E|n_p|^2 - 2 E[(f(y)_p - x_p) n_p]. For a
    blind-spot f, f(y)_p reads only other pixels; if the noise is pixel-wise independent and
    zero-mean given x, the cross term vanishes and the loss is the supervised one plus a constant
    (same minimiser, unbiased gradients). Spatially correlated noise breaks this (see BlindSpotNet).
    """
    try:
        select = _TARGETS[network.supervision]
    except (AttributeError, KeyError):
        raise ValueError(f"{type(network).__name__} needs a supervision attribute in {sorted(_TARGETS)}") from None
    return F.mse_loss(network(noisy), select(noisy, clean))


def count_parameters(network: nn.Module) -> int:
    """Number of learnable parameters (buffers such as BatchNorm statistics and masks excluded)."""
    return sum(p.numel() for p in network.parameters())


def count_macs(network: nn.Module, size: int = 256) -> int:
    """Multiply-accumulates of one forward of a (1, channels, size, size) image, in eval mode.

    Counted on a copy moved to the meta device (shapes only, no arithmetic); FlopCounterMode counts
    convolutions (transposed included) at 2 FLOPs per MAC; pooling, ReLU, BatchNorm and padding
    are not counted.
    """
    meta = copy.deepcopy(network).to("meta").eval()
    x = torch.zeros(1, meta.channels, size, size, device="meta")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        meta(x)
    return counter.get_total_flops() // 2
