"""Generated datasets for tests, the demo and smoke runs: COCO-format shapes
for detection (:func:`make_coco_dataset`) and an ImageNet-style folder of
stripes for classification pretraining (:func:`make_image_folder_dataset`)."""
from .shapes import CLASSES, make_annotation_file, make_coco_dataset
from .stripes import make_image_folder_dataset

__all__ = ['CLASSES', 'make_annotation_file', 'make_coco_dataset', 'make_image_folder_dataset']
