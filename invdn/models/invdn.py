"""The Invertible Denoising Network (Liu et al., CVPR 2021, §3.4, Fig. 3)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from invdn.models.coupling import CouplingBlock, halves
from invdn.models.registry import SUBNETS, TRANSFORMS
from invdn.models.reversible import reversible_chain


@dataclass(frozen=True)
class Architecture:
    """Everything needed to rebuild an InvDN; stored in every checkpoint.

    ``inv_blocks`` is one int (the same count at every scale) or one count per down-scale block
    (the official ``block_num``). Defaults are the paper's: 2 down-scale blocks x 8 coupling blocks.
    """

    channels: int = 3
    down_blocks: int = 2
    inv_blocks: int | tuple[int, ...] = 8
    transform: str = "haar"
    subnet: str = "resnet"
    clamp: float = 1.0

    def blocks_per_scale(self) -> tuple[int, ...]:
        if isinstance(self.inv_blocks, int):
            return (self.inv_blocks,) * self.down_blocks
        blocks = tuple(int(b) for b in self.inv_blocks)
        if len(blocks) != self.down_blocks:
            raise ValueError(
                f"inv_blocks lists {len(blocks)} counts but down_blocks is {self.down_blocks}"
            )
        return blocks

    def to_dict(self) -> dict:
        d = asdict(self)
        if not isinstance(self.inv_blocks, int):
            d["inv_blocks"] = list(self.inv_blocks)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Architecture":
        d = dict(d)
        if isinstance(d.get("inv_blocks"), list):
            d["inv_blocks"] = tuple(d["inv_blocks"])
        return cls(**d)


PRECISIONS = {"float32": torch.float32, "bf16": torch.bfloat16}
"""Compute precisions of ``InvDN.precision``: the name and the autocast dtype."""


class InvDN(nn.Module):
    """Invertible map from a noisy image to the latent [lr ; z] and back.

    ``model(x)`` takes a noisy image (N, C, H, W), float in [0, 1], H and W divisible by
    2**down_blocks, and returns the latent (N, C*4**k, H/2**k, W/2**k), k = down_blocks, whose first
    C channels are the low-resolution image ``lr`` (trained towards the 1/4 bicubic clean image at
    k = 2) and the rest ``z``. ``model(latent, rev=True)`` inverts it exactly: denoising replaces z
    with a sample z_hf ~ N(0, I) before the reverse pass (paper §3.3).

    Operations are numbered as the official code numbers them: transform, its coupling blocks, next
    transform, ... (``operations.<i>`` in the state dict).

    ``memory_saving`` (default False; not part of the architecture): while autograd records, run
    the operations through ``reversible_chain``, which keeps no activations and rebuilds them from
    the output during the backward pass, so training memory does not grow with depth. Outputs are
    identical; gradients equal the ordinary ones to round-off.

    ``precision`` (default "float32"; not part of the architecture): "bf16" runs the passes under
    ``torch.autocast`` in bfloat16: the subnets' feature convolutions in bf16, while the stream of
    coupling blocks, the Haar transforms and each subnet's part from its input stay float32; the
    result is float32. On a 2-core AVX512-BF16 CPU: 1.2-2.0x faster inference than the float32
    channels_last path (by mode and run; about 2x the official float32 code's single draw), mean PSNR
    within 0.006 dB of float32 on the bundled val blocks (``benchmarks/suite.py``). "float32" is the reference path.

    ``auto_layout`` (default True; not part of the architecture): the first float32 pass on the CPU puts the
    weights in channels_last memory format, oneDNN's fast layout for InvDN's 3x3 convolutions (a
    256x256 single draw 1.9x faster than NCHW on 2 cores with glibc's default allocator, 1.1x with
    it tuned, as measured for issue 19; ``benchmarks/suite.py`` measures both paths), once, in place (the parameters stay the same objects). Outputs equal the
    NCHW path's to float32 round-off. On other devices the layout is left as it is. False: the layout
    is the caller's (``model.to(memory_format=...)``; NCHW is the reference path). Channels_last
    weights make the activations channels_last too; the result comes back in the caller's layout.
    """

    def __init__(self, arch: Architecture | None = None, **kwargs):
        super().__init__()
        if arch is None:
            arch = Architecture(**kwargs)
        elif kwargs:
            raise TypeError("pass either an Architecture or keyword arguments, not both")
        self.arch = arch
        transform = TRANSFORMS.get(arch.transform)
        subnet = SUBNETS.get(arch.subnet)
        ops: list[nn.Module] = []
        channels = arch.channels
        for count in arch.blocks_per_scale():
            t = transform(channels)
            ops.append(t)
            channels = t.out_channels
            ops.extend(CouplingBlock(channels, arch.channels, subnet, arch.clamp) for _ in range(count))
        self.operations = nn.ModuleList(ops)
        self.latent_channels = channels
        self.memory_saving = False
        self.precision = "float32"
        self.auto_layout = True

    @property
    def scale(self) -> int:
        """Spatial down-scaling factor 2**down_blocks of the latent."""
        return 2**self.arch.down_blocks

    def forward(self, x: torch.Tensor, rev: bool = False) -> torch.Tensor:
        if not rev and (x.shape[-1] % self.scale or x.shape[-2] % self.scale):
            raise ValueError(
                f"input height and width must be divisible by {self.scale} "
                f"(2**down_blocks), got {tuple(x.shape[-2:])}"
            )
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.auto_layout and x.device.type == "cpu" and x.dtype == torch.float32 and not self.channels_last:
            with torch.no_grad():  # once: the parameters' data change layout, not the parameters
                self.to(memory_format=torch.channels_last)
        if self.precision == "float32":
            return self._run(x, rev)
        with torch.autocast(x.device.type, dtype=PRECISIONS[self.precision]):
            return self._run(x, rev).float()

    def _run(self, x: torch.Tensor, rev: bool) -> torch.Tensor:
        if self.channels_last and not x.is_contiguous(memory_format=torch.channels_last):
            # weights in channels_last (oneDNN's fast layout on CPU): the activations follow, and the
            # result returns in the caller's layout
            return self._run(x.contiguous(memory_format=torch.channels_last), rev).contiguous()
        if self.memory_saving and torch.is_grad_enabled():
            return reversible_chain(self.operations, x, rev=rev)
        parts = None  # (first, rest) channels between consecutive coupling blocks, joined only for a transform
        for op in reversed(self.operations) if rev else self.operations:
            if isinstance(op, CouplingBlock):
                parts = op.pair(*(parts or halves(x, op.split)), rev=rev)
            else:
                if parts is not None:
                    x, parts = torch.cat(parts, dim=1), None
                x = op(x, rev=rev)
        return torch.cat(parts, dim=1) if parts is not None else x

    @property
    def channels_last(self) -> bool:
        """Whether the weights are in channels_last memory format (``model.to(memory_format=...)``)."""
        first = next((p for p in self.parameters() if p.dim() == 4), None)  # a (64, C, 3, 3) conv weight
        return first is not None and first.is_contiguous(memory_format=torch.channels_last) and not first.is_contiguous()

    def split_latent(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Split (N, C*4**k, h, w) into ``lr`` (N, C, h, w) and ``z`` (N, C*4**k - C, h, w)."""
        c = self.arch.channels
        return latent[:, :c], latent[:, c:]

    def num_parameters(self) -> int:
        """Trainable parameters (the Haar filters are a buffer and not counted)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
