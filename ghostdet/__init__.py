"""GhostNet backbones for MMDetection.

Importing ``ghostdet`` registers its backbones (:class:`ghostdet.models.GhostNet`,
:class:`ghostdet.models.TVMobileNetV3`) and its training loop and hooks
(:mod:`ghostdet.engine`) with MMDetection and MMEngine. Configs load it with
``custom_imports = dict(imports=['ghostdet'], allow_failed_imports=False)``.

It also changes three things in its dependencies, each in one function and
each tested against the dependency's code:

- MMEngine loads every checkpoint weights-only, with errors that name the
  file (:func:`ghostdet.checkpoint.safety.allow_mmengine_checkpoints`);
- MMDetection's ``CocoDataset`` checks its annotation file as it loads it
  (:func:`ghostdet.data_check.coco_loading.check_annotations_when_loading`);
- mmcv's ``LoadImageFromFile`` names a missing, empty, undecodable or
  truncated image (:func:`ghostdet.data_check.images.check_images_when_loading`).
"""
from . import engine  # noqa: F401  (registers the training loop and hooks)
from .checkpoint import allow_mmengine_checkpoints
from .data_check import check_annotations_when_loading
from .data_check.images import check_images_when_loading
from .errors import GhostdetError
from .models import GhostNet, TVMobileNetV3

__version__ = '0.1.0'
__all__ = ['GhostNet', 'GhostdetError', 'TVMobileNetV3', '__version__']

allow_mmengine_checkpoints()
check_annotations_when_loading()
check_images_when_loading()
