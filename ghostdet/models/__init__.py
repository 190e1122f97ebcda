from .base_backbone import BaseStagedBackbone, FeatureInfo, GhostNetLayout
from .ghost_blocks import GhostBottleneck, GhostModule, SqueezeExcite, make_divisible
from .ghostnet import GhostNet
from .timm_ghost import GhostNetV2, GhostNetV3, RepGhostNet, TimmGhostBackbone
from .tv_mobilenet_v3 import TVMobileNetV3

__all__ = [
    'BaseStagedBackbone', 'FeatureInfo', 'GhostNetLayout', 'GhostNet', 'GhostNetV2', 'GhostNetV3', 'RepGhostNet',
    'TimmGhostBackbone', 'TVMobileNetV3', 'GhostBottleneck',
    'GhostModule', 'SqueezeExcite', 'make_divisible', 'register_all_modules'
]


def register_all_modules() -> None:
    """Register MMDetection's modules in its registries beside ghostdet's
    backbones (which importing this package registered), without changing
    the default scope: what building a config's model needs."""
    from mmdet.utils import register_all_modules as register_mmdet_modules
    register_mmdet_modules(init_default_scope=False)
