"""Checks of a config's datasets: the paths a config names exist, before a
run starts (:mod:`.config_paths`); COCO annotation files are sound by
MMDetection's semantics (:mod:`.coco`), checked as MMDetection loads them by
the dataset type ``CheckedCocoDataset`` (:mod:`.coco_loading`); images that
cannot be read are named by the transform ``CheckedLoadImageFromFile``
(:mod:`.images`)."""
from .coco import CocoReport, check_coco_annotations, check_coco_dict, load_coco_json
from .coco_loading import CheckedCocoDataset, annotation_check_skipped, data_check_enabled
from .config_paths import (ConfiguredDataset, check_datasets, configured_datasets,
                           dataset_path_problems, leaf_datasets)
from .images import CheckedLoadImageFromFile

__all__ = [
    'CheckedCocoDataset', 'CheckedLoadImageFromFile', 'CocoReport', 'ConfiguredDataset',
    'annotation_check_skipped', 'check_coco_annotations',
    'check_coco_dict', 'check_datasets', 'configured_datasets', 'data_check_enabled',
    'dataset_path_problems', 'leaf_datasets', 'load_coco_json'
]
