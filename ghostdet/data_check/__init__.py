"""Checks of a config's datasets: the paths a config names exist, before a
run starts (:mod:`.config_paths`); COCO annotation files are sound by
MMDetection's semantics (:mod:`.coco`), checked as MMDetection loads them
(:mod:`.coco_loading`)."""
from .coco import CocoReport, check_coco_annotations, check_coco_dict, load_coco_json
from .coco_loading import (annotation_check_skipped, check_annotations_when_loading,
                           data_check_enabled)
from .config_paths import (ConfiguredDataset, check_datasets, configured_datasets,
                           dataset_path_problems, leaf_datasets)

__all__ = [
    'CocoReport', 'ConfiguredDataset', 'annotation_check_skipped',
    'check_annotations_when_loading', 'check_coco_annotations',
    'check_coco_dict', 'check_datasets', 'configured_datasets', 'data_check_enabled',
    'dataset_path_problems', 'leaf_datasets', 'load_coco_json'
]
