"""Dataset helpers: a synthetic COCO-format shapes dataset and a COCO checker."""
from .coco_check import DatasetError, check_coco_annotations
from .image_folder import make_image_folder_dataset
from .synthetic import CLASSES, make_coco_dataset

__all__ = ['CLASSES', 'DatasetError', 'check_coco_annotations',
           'make_coco_dataset', 'make_image_folder_dataset']
