from .ghost_blocks import GhostBottleneck, GhostModule, SqueezeExcite, make_divisible
from .ghostnet import GhostNet
from .mobilenet_v3 import MobileNetV3

__all__ = [
    'GhostNet', 'MobileNetV3', 'GhostBottleneck', 'GhostModule', 'SqueezeExcite', 'make_divisible'
]
