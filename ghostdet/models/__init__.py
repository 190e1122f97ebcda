from .base_backbone import BaseStagedBackbone, FeatureInfo
from .ghost_blocks import GhostBottleneck, GhostModule, SqueezeExcite, make_divisible
from .ghostnet import GhostNet
from .tv_mobilenet_v3 import TVMobileNetV3

__all__ = [
    'BaseStagedBackbone', 'FeatureInfo', 'GhostNet', 'TVMobileNetV3', 'GhostBottleneck',
    'GhostModule', 'SqueezeExcite', 'make_divisible'
]
