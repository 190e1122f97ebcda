"""What the annotation check costs next to MMDetection's own loading."""
import statistics
import time
from typing import Optional, Sequence

from mmdet.datasets import CocoDataset

from .coco import check_coco_dict, load_coco_json
from .coco_loading import annotation_check_skipped


def _load(ann_file, classes):
    CocoDataset(ann_file=ann_file, metainfo=dict(classes=classes), data_prefix=dict(img=''),
                pipeline=[], test_mode=True)


def time_annotation_check(ann_file: str,
                          *,
                          classes: Optional[Sequence[str]] = None,
                          repeats: int = 3) -> dict:
    """Time MMDetection's ``CocoDataset`` loading of ``ann_file`` with and
    without ghostdet's annotation check (interleaved), and the check alone.

    Args:
        ann_file (str): A COCO annotation file.
        classes (Sequence[str], optional): The classes to load; default: the
            file's category names.
        repeats (int): Timed loads of each kind. Default: 3.

    Returns:
        dict: Median seconds ``mmdet_load_s`` (check off), ``checked_load_s``
        (check on), ``check_s`` (the check on the parsed dict alone), and
        ``overhead`` = checked / unchecked - 1.
    """
    data = load_coco_json(ann_file)
    classes = tuple(classes or [c['name'] for c in data['categories']])
    plain, checked, alone = [], [], []
    for _ in range(repeats):
        start = time.perf_counter()
        with annotation_check_skipped():
            _load(ann_file, classes)
        plain.append(time.perf_counter() - start)
        start = time.perf_counter()
        _load(ann_file, classes)
        checked.append(time.perf_counter() - start)
        start = time.perf_counter()
        check_coco_dict(data, source=ann_file, classes=classes)
        alone.append(time.perf_counter() - start)
    result = dict(mmdet_load_s=statistics.median(plain), checked_load_s=statistics.median(checked),
                  check_s=statistics.median(alone))
    result['overhead'] = result['checked_load_s'] / result['mmdet_load_s'] - 1
    return result
