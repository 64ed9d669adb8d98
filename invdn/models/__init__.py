"""InvDN and its components. Every named variant is registered here, explicitly."""
from .haar import HaarTransform
from .invdn import Architecture, InvDN
from .registry import SUBNETS, TRANSFORMS
from .subnets import ResidualSubnet

TRANSFORMS.register("haar", HaarTransform)
SUBNETS.register("resnet", ResidualSubnet)

__all__ = ["Architecture", "InvDN", "HaarTransform", "ResidualSubnet", "SUBNETS", "TRANSFORMS"]
