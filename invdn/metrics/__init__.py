"""Image quality metrics, the named protocols that apply them, and AKLD for generated noise."""
from invdn.metrics.akld import akld, akld_per_image, load_generated_folder
from invdn.metrics.protocols import CANONICAL, PROTOCOLS, Protocol, canonical_scores, get_protocol, rgb_to_bt601_luma, scores
from invdn.metrics.psnr import psnr
from invdn.metrics.ssim import gaussian_window, ssim

__all__ = [
    "akld",
    "akld_per_image",
    "load_generated_folder",
    "CANONICAL",
    "PROTOCOLS",
    "Protocol",
    "canonical_scores",
    "gaussian_window",
    "get_protocol",
    "psnr",
    "rgb_to_bt601_luma",
    "scores",
    "ssim",
]
