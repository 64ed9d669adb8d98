"""invdn-repro: a reproducibility harness for the Invertible Denoising Network (Liu et al., CVPR 2021)."""
__version__ = "0.1.0"
