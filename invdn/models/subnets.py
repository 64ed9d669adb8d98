"""Coupling subnets (the paper's phi_2, phi_3, phi_4; official names F, G, H).

Source: Liu et al., CVPR 2021, §3.4 ("We use the residual block as operations phi_2, phi_3 and
phi_4"); the official ``ResBlock`` fixes the layout. Initialisation is PyTorch's default: the
official code's ``init: xavier`` option is ignored for this subnet, and we follow the code.
"""
from __future__ import annotations

import torch
from torch import nn


class ResidualSubnet(nn.Module):
    """conv3x3(in->64) + LeakyReLU(0.2), conv3x3(64->64) + LeakyReLU(0.2), conv3x3(in+64 -> out).

    The last convolution reads the concatenation [input, features], which is the "residual"
    connection of the official ``ResBlock``. Maps (N, in, H, W) -> (N, out, H, W).
    Parameters: 9*in*64 + 64 + 9*64*64 + 64 + 9*(in+64)*out + out.
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
        return self.conv3(torch.cat((x, h), dim=1))
