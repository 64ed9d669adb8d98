"""InvDN and its components. Every named variant is registered here, explicitly."""
from .haar import HaarTransform
from .invdn import Architecture, InvDN
from .registry import SUBNETS, TRANSFORMS
from .squeeze import SqueezeTransform
from .subnets import DenseSubnet, ResidualSubnet
from .weights import load_model

TRANSFORMS.register("haar", HaarTransform)
TRANSFORMS.register("squeeze", SqueezeTransform)
SUBNETS.register("resnet", ResidualSubnet)
SUBNETS.register("densenet", DenseSubnet)

__all__ = [
    "Architecture",
    "InvDN",
    "HaarTransform",
    "SqueezeTransform",
    "ResidualSubnet",
    "DenseSubnet",
    "SUBNETS",
    "TRANSFORMS",
    "load_model",
]
