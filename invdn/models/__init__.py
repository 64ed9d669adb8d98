"""InvDN and its components. Every named variant is registered here, explicitly."""
from invdn.models.haar import HaarTransform
from invdn.models.invdn import Architecture, InvDN
from invdn.models.registry import SUBNETS, TRANSFORMS
from invdn.models.squeeze import SqueezeTransform
from invdn.models.subnets import DenseSubnet, ResidualSubnet
from invdn.models.weights import load_model

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
