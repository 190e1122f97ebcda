"""GhostNet backbones for MMDetection.

Importing ``ghostdet`` only adds registry entries; it changes nothing in torch,
MMEngine, mmcv or MMDetection. Configs load it with
``custom_imports = dict(imports=['ghostdet'], allow_failed_imports=False)`` and
then name what they use:

- the backbones ``GhostNet`` and ``TVMobileNetV3``, and the Ghost family built
  on timm, ``RepGhostNet``, ``GhostNetV2`` and ``GhostNetV3`` (timm is imported
  when one is built, not here) (:mod:`ghostdet.models`);
- the training loop ``ResumableEpochBasedTrainLoop`` and the hooks
  ``SafeCheckpointHook`` and ``FiniteLossHook`` (:mod:`ghostdet.engine`);
- the dataset type ``CheckedCocoDataset`` (annotation check, bad images named)
  and the transform ``CheckedLoadImageFromFile`` (bad images named, for other
  dataset types) (:mod:`ghostdet.data_check`);
- weights-only loading of every checkpoint, by listing
  :mod:`ghostdet.weights_only` in ``custom_imports`` too.
"""
from . import engine  # noqa: F401  (registers the training loop and hooks)
from .data_check import CheckedCocoDataset, CheckedLoadImageFromFile
from .errors import GhostdetError
from .models import GhostNet, GhostNetV2, GhostNetV3, RepGhostNet, TVMobileNetV3

__version__ = '0.1.0'
__all__ = [
    'CheckedCocoDataset', 'CheckedLoadImageFromFile', 'GhostNet', 'GhostNetV2', 'GhostNetV3',
    'GhostdetError', 'RepGhostNet', 'TVMobileNetV3', '__version__'
]
