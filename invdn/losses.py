"""The InvDN training objective (paper §3.4, Eq. 1 and the backward objective; official code).

Both reconstruction terms follow the official ``ReconstructionLoss``: summed over (C, H, W) and
averaged over the batch (not averaged over pixels as the paper's 1/M writes), which is why the
official forward weight is 16 and the backward weight 1. The official "l1" is a Charbonnier
loss, sqrt(diff^2 + eps), and is named so here; ``l1`` is the plain absolute error of the
paper's text (Table 4's L1 columns).

The official backward objective (``codes/models/InvDN_model.py``, ``loss_backward``, Yang-Liu1082/
InvDN at 8129f5e) adds two terms the paper reports as not helping (Table 4): a Sobel gradient loss
with weight 0.1 x ``lambda_rec_back`` and an SSIM loss with weight ``lambda_rec_back`` (= 1 in
``train_InvDN.yml``). Unlike the reconstruction terms both are means over pixels, so beside a
Charbonnier summed over 3 x 144 x 144 values they move the total very little.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from invdn.models import InvDN


def sum_squared_error(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """mean_n sum_{c,h,w} (x - target)^2 for (N, C, H, W) tensors (official "l2")."""
    return torch.sum((x - target) ** 2, dim=(1, 2, 3)).mean()


def sum_absolute_error(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """mean_n sum_{c,h,w} |x - target| for (N, C, H, W) tensors: the paper's L1 (Table 4).

    The official code has no plain L1 (its "l1" is ``charbonnier``); the same reduction as the
    official losses is used so that the weights 16 / 1 keep their meaning.
    """
    return torch.sum(torch.abs(x - target), dim=(1, 2, 3)).mean()


def charbonnier(x: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """mean_n sum_{c,h,w} sqrt((x - target)^2 + eps) for (N, C, H, W) tensors (official "l1")."""
    diff = x - target
    return torch.sum(torch.sqrt(diff * diff + eps), dim=(1, 2, 3)).mean()


RECONSTRUCTION_LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "l1": sum_absolute_error,
    "l2": sum_squared_error,
    "charbonnier": charbonnier,
}


def _same_shape(name: str, x: torch.Tensor, target: torch.Tensor) -> None:
    if x.ndim != 4 or x.shape != target.shape:
        raise ValueError(f"{name}: expected two (N, C, H, W) tensors of one shape, got {tuple(x.shape)} and "
                         f"{tuple(target.shape)}")


def sobel_gradients(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Horizontal and vertical Sobel responses of each channel, zero padding 1.

    ``image`` (N, C, H, W), float; returns two (N, C, H, W) tensors, the cross-correlations with
    [[1, 0, -1], [2, 0, -2], [1, 0, -1]] and its transpose [[1, 2, 1], [0, 0, 0], [-1, -2, -1]]
    (the official ``Gradient_Loss`` filters, ``codes/models/modules/loss.py``: a depthwise
    ``Conv2d(3, 3, 3, padding=1, groups=3)``). The zero padding makes a constant image respond on
    its one-pixel border.
    """
    kx = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]], dtype=image.dtype, device=image.device)
    c = image.shape[1]
    return tuple(F.conv2d(image, k.expand(c, 1, 3, 3), padding=1, groups=c) for k in (kx, kx.T))


def gradient_loss(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """mean |Sobel_x(x) - Sobel_x(target)| + mean |Sobel_y(x) - Sobel_y(target)|, a scalar.

    ``x``, ``target``: (N, C, H, W) float, any range (the official use: restored and clean images in
    [0, 1]). Each mean is over all N x C x H x W responses of ``sobel_gradients`` (zero padding 1).

    Source: the official ``Gradient_Loss`` (Yang-Liu1082/InvDN 8129f5e, ``codes/models/modules/
    loss.py``), read there: two fixed depthwise 3x3 Sobel convolutions with ``padding=1`` (zeros),
    ``nn.L1Loss()`` (reduction "mean": an average over pixels, not a sum) on each direction, the
    two added; ``InvDN_model.loss_backward`` weights it 0.1 x ``lambda_rec_back``. Sure of all of it
    (read from the file, not inferred), except that the official version is fixed to 3 channels
    and CUDA; here any C and any device. Because of the zero padding, images that differ by a
    constant have a non-zero loss, from the border pixels only.

    Raises:
        ValueError: the shapes differ or are not 4-D.
    """
    _same_shape("gradient_loss", x, target)
    gx, gy = sobel_gradients(x - target)  # the filters are linear
    return gx.abs().mean() + gy.abs().mean()


def ssim_map(x: torch.Tensor, y: torch.Tensor, c1: float = 0.01**2, c2: float = 0.03**2) -> torch.Tensor:
    """Per-pixel SSIM over 3x3 windows, (N, C, H, W) in, (N, C, H, W) out, in [-1, 1].

    Means, biased variances and the covariance are 3x3 box averages (stride 1) of the images
    reflect-padded by 1; c1 = 0.01^2 and c2 = 0.03^2 are K1, K2 of Wang et al. for a data range of
    1, so ``x`` and ``y`` are float images in [0, 1]; H and W at least 2 (reflect padding).
    """
    x, y = F.pad(x, (1, 1, 1, 1), mode="reflect"), F.pad(y, (1, 1, 1, 1), mode="reflect")
    mu_x, mu_y = F.avg_pool2d(x, 3, 1), F.avg_pool2d(y, 3, 1)
    var_x = F.avg_pool2d(x * x, 3, 1) - mu_x**2
    var_y = F.avg_pool2d(y * y, 3, 1) - mu_y**2
    cov = F.avg_pool2d(x * y, 3, 1) - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    return num / den


def ssim_loss(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """mean over (N, C, H, W) of clamp((1 - SSIM) / 2, 0, 1), a scalar in [0, 1]; 0 for x == target.

    ``x``, ``target``: (N, C, H, W) float images in [0, 1] (the constants assume that range), H and
    W at least 2. Symmetric in its arguments. SSIM is ``ssim_map``: 3x3 average-pooling windows on
    images reflect-padded by 1, c1 = 0.01^2, c2 = 0.03^2.

    Source: the official ``SSIM_Loss`` (Yang-Liu1082/InvDN 8129f5e, ``codes/models/modules/
    loss.py``; the same layer as Monodepth2's SSIM), read there: ``ReflectionPad2d(1)``,
    ``AvgPool2d(3, 1)`` for the means, E[x^2] - mu^2 variances, the module returning the map
    ``clamp((1 - SSIM_n / SSIM_d) / 2, 0, 1)``, and ``InvDN_model.loss_backward`` taking its
    ``.mean()`` (an average over pixels) weighted by ``lambda_rec_back`` (1). Sure of all of it:
    note the halving, (1 - SSIM) / 2, not 1 - SSIM, so the official weight 1 here is weight 0.5
    on 1 - SSIM.

    Raises:
        ValueError: the shapes differ or are not 4-D.
    """
    _same_shape("ssim_loss", x, target)
    return torch.clamp((1 - ssim_map(x, target)) / 2, 0, 1).mean()


@dataclass(frozen=True)
class Objective:
    """lambda_forward * L_forw(lr, lq) + lambda_backward * L_back(restored, clean)
    [+ lambda_gradient * gradient_loss(restored, clean)] [+ lambda_ssim * ssim_loss(restored, clean)],
    with restored = reverse([lr ; z_hf]).

    Defaults are the official train_InvDN.yml's reconstruction terms: forward "l2" with weight 16,
    backward Charbonnier (eps 1e-3) with weight 1, z_hf ~ N(0, I), and no gradient or SSIM term
    (the official code's weights for those are ``lambda_gradient`` 0.1 and ``lambda_ssim`` 1; both
    are absolute weights here, not multiples of ``lambda_backward``). A weight of 0 leaves its term
    out entirely: it is neither computed nor returned.
    """

    forward_loss: str = "l2"
    backward_loss: str = "charbonnier"
    lambda_forward: float = 16.0
    lambda_backward: float = 1.0
    charbonnier_eps: float = 1e-3
    lambda_gradient: float = 0.0
    lambda_ssim: float = 0.0

    def _loss(self, name: str, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        fn = RECONSTRUCTION_LOSSES[name]
        return fn(x, target, self.charbonnier_eps) if name == "charbonnier" else fn(x, target)

    def __call__(
        self,
        model: InvDN,
        noisy: torch.Tensor,
        clean: torch.Tensor,
        lq: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> dict[str, torch.Tensor]:
        """Losses for one batch: noisy, clean (N, C, H, W) and lq (N, C, H/s, W/s), float in [0, 1].

        ``generator`` draws z_hf (on the model's device). Returns {"forward", "backward", "total"},
        with "gradient" and "ssim" (weighted) before "total" when their weights are > 0.
        """
        latent = model(noisy)
        lr, z = model.split_latent(latent)
        z_hf = torch.randn(z.shape, generator=generator, device=z.device, dtype=z.dtype)
        restored = model(torch.cat((lr, z_hf), dim=1), rev=True)
        forward = self.lambda_forward * self._loss(self.forward_loss, lr, lq)
        backward = self.lambda_backward * self._loss(self.backward_loss, restored, clean)
        parts = {"forward": forward, "backward": backward}
        total = forward + backward
        if self.lambda_gradient > 0:
            parts["gradient"] = self.lambda_gradient * gradient_loss(restored, clean)
            total = total + parts["gradient"]
        if self.lambda_ssim > 0:
            parts["ssim"] = self.lambda_ssim * ssim_loss(restored, clean)
            total = total + parts["ssim"]
        return {**parts, "total": total}
