"""GhostNet backbones for MMDetection.

Importing ``ghostdet`` registers :class:`ghostdet.models.GhostNet` in
MMDetection's model registry and allow-lists MMEngine's checkpoint types for
``torch.load(weights_only=True)``. Configs load it with
``custom_imports = dict(imports=['ghostdet'], allow_failed_imports=False)``.
"""
from .checkpoint_safety import allow_mmengine_checkpoints
from .models import GhostNet

__version__ = '0.1.0'
__all__ = ['GhostNet', '__version__']

allow_mmengine_checkpoints()
