"""Image quality metrics and the named protocols that apply them."""
from .protocols import CANONICAL, canonical_scores
from .psnr import psnr
from .ssim import gaussian_window, ssim

__all__ = ["CANONICAL", "canonical_scores", "gaussian_window", "psnr", "ssim"]
