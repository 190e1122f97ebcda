from .ghost_blocks import GhostBottleneck, GhostModule, SqueezeExcite, make_divisible
from .ghostnet import GhostNet

__all__ = ['GhostNet', 'GhostBottleneck', 'GhostModule', 'SqueezeExcite', 'make_divisible']
