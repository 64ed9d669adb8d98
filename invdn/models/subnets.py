"""Coupling subnets (the paper's phi_2, phi_3, phi_4; official names F, G, H).

Source: Liu et al., CVPR 2021, §3.4 ("We use the residual block as operations phi_2, phi_3 and
phi_4"); the official ``ResBlock`` fixes the layout. Initialisation is PyTorch's default: the
official code's ``init: xavier`` option is ignored for this subnet, and we follow the code.

``DenseSubnet`` is the alternative the official code offers (``subnet_type: DBNet``, class
``DenseBlock`` in ``Subnet_constructor.py``, inherited from IRN); unlike ``ResBlock`` it does apply
its own initialisation.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ResidualSubnet(nn.Module):
    """conv3x3(in->64) + LeakyReLU(0.2), conv3x3(64->64) + LeakyReLU(0.2), conv3x3(in+64 -> out).

    The last convolution reads the concatenation [input, features], which is the "residual"
    connection of the official ``ResBlock``. Maps (N, in, H, W) -> (N, out, H, W).
    Parameters: 9*in*64 + 64 + 9*64*64 + 64 + 9*(in+64)*out + out.

    ``conv3`` keeps the official (out, in + 64, 3, 3) weight, but ``forward`` applies it as two
    convolutions, one per input slice of the weight, summed: the same linear map without writing the
    (in + 64)-channel concatenation. That copy, with the layout reorder oneDNN then needed, was 20%
    of a CPU denoise; in training it was one more saved activation per subnet. Outputs equal the
    concatenation's to float32 round-off (``tests/test_official_reference.py`` checks 1e-5).
    Under autocast the part from the input runs in the input's own precision (float32).
    """

    def __init__(self, in_channels: int, out_channels: int, features: int = 64):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, features, 3, padding=1)
        self.conv2 = nn.Conv2d(features, features, 3, padding=1)
        self.conv3 = nn.Conv2d(in_channels + features, out_channels, 3, padding=1)
        self.act = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.conv1(x))
        h = self.act(self.conv2(h))
        c, w = x.shape[1], self.conv3.weight
        features = F.conv2d(h, w[:, c:], self.conv3.bias, padding=1)
        if features.dtype == x.dtype:  # in-place add: neither convolution's backward reads its output
            return features.add_(F.conv2d(x, w[:, :c], padding=1))
        # under autocast (bf16, fp16) the part from x keeps x's precision and the sum is not rounded
        # again: the subnet's output carries one low-precision rounding, that of the features' part
        with torch.autocast(x.device.type, enabled=False):
            return F.conv2d(x, w[:, :c].to(x.dtype), padding=1).add_(features)


class DenseSubnet(nn.Module):
    """Five 3x3 convolutions on a growing concatenation (the official ``DenseBlock``, growth gc=32).

    ::

        x1 = lrelu(conv1(x))                       in           -> growth
        x2 = lrelu(conv2(cat(x, x1)))              in + 1*growth -> growth
        x3 = lrelu(conv3(cat(x, x1, x2)))          in + 2*growth -> growth
        x4 = lrelu(conv4(cat(x, x1, x2, x3)))      in + 3*growth -> growth
        out = conv5(cat(x, x1, x2, x3, x4))        in + 4*growth -> out   (no activation)

    LeakyReLU slope 0.2; all convolutions have padding 1 and a bias. Maps (N, in, H, W) ->
    (N, out, H, W). Attribute names ``conv1``..``conv5`` are the official state-dict names.

    Initialisation, as the official code (``init='xavier'``, the default of ``DenseBlock``):
    conv1..conv4 get ``xavier_normal_`` weights scaled by 0.1 and zero biases
    (``initialize_weights_xavier([...], 0.1)``); conv5 gets zero weights and a zero bias
    (``initialize_weights(conv5, 0)``: Kaiming-normal times 0). So a fresh subnet outputs exactly 0
    and every coupling block built from it starts as the identity map.

    Parameters, with g = growth::

        sum_{k=0..3} (9*(in + k*g)*g + g) + 9*(in + 4*g)*out + out
          = 9*g*(4*in + 6*g) + 4*g + 9*(in + 4*g)*out + out
    """

    def __init__(self, in_channels: int, out_channels: int, growth: int = 32):
        super().__init__()
        g = growth
        self.conv1 = nn.Conv2d(in_channels, g, 3, padding=1, bias=True)
        self.conv2 = nn.Conv2d(in_channels + g, g, 3, padding=1, bias=True)
        self.conv3 = nn.Conv2d(in_channels + 2 * g, g, 3, padding=1, bias=True)
        self.conv4 = nn.Conv2d(in_channels + 3 * g, g, 3, padding=1, bias=True)
        self.conv5 = nn.Conv2d(in_channels + 4 * g, out_channels, 3, padding=1, bias=True)
        self.act = nn.LeakyReLU(0.2, inplace=True)
        self._init_official()

    @torch.no_grad()
    def _init_official(self) -> None:
        # the small (0.1x) Xavier scale keeps the hidden features small at the start of training
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            nn.init.xavier_normal_(conv.weight)
            conv.weight.mul_(0.1)
            conv.bias.zero_()
        # zero output layer, drawn the official way (Kaiming-normal times 0) rather than with zero_():
        # the result is the same zeros, but the global RNG advances as in the official code, so the
        # draws of later subnets stay in step with an official model built from the same seed
        nn.init.kaiming_normal_(self.conv5.weight, a=0, mode="fan_in")
        self.conv5.weight.mul_(0.0)
        self.conv5.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.act(self.conv1(x))
        x2 = self.act(self.conv2(torch.cat((x, x1), dim=1)))
        x3 = self.act(self.conv3(torch.cat((x, x1, x2), dim=1)))
        x4 = self.act(self.conv4(torch.cat((x, x1, x2, x3), dim=1)))
        return self.conv5(torch.cat((x, x1, x2, x3, x4), dim=1))
