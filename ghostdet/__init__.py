"""GhostNet backbones for MMDetection.

Importing ``ghostdet`` registers :class:`ghostdet.models.GhostNet` (and
:class:`ghostdet.models.TVMobileNetV3`) in MMDetection's model registry and
makes checkpoint loading weights-only, MMEngine's own checkpoints included
(:mod:`ghostdet.checkpoint.safety`), and has MMDetection's ``CocoDataset``
check its annotation file as it loads it (:mod:`ghostdet.data_check`). Configs load it with
``custom_imports = dict(imports=['ghostdet'], allow_failed_imports=False)``.
"""
from .checkpoint import allow_mmengine_checkpoints
from .data_check import check_annotations_when_loading
from .errors import GhostdetError
from .models import GhostNet, TVMobileNetV3

__version__ = '0.1.0'
__all__ = ['GhostNet', 'GhostdetError', 'TVMobileNetV3', '__version__']

allow_mmengine_checkpoints()
check_annotations_when_loading()
