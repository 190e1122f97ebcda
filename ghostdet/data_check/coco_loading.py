"""The annotation check, run inside MMDetection's own COCO loading.

A separate pre-run check would parse the annotation file a second time (on a
file the size of COCO train2017 that alone costs more than half of
MMDetection's own loading). Instead :class:`CheckedCocoDataset`, a
``CocoDataset`` that a config names by type, builds its index with
:class:`CheckedCOCO`, which parses the file as pycocotools does, has rank 0
check the parsed dict (:func:`ghostdet.data_check.coco.check_coco_dict`) while
the other ranks wait for its verdict, and only then builds the index. Because
it is part of dataset loading, the stock MMDetection tools get it too. The
same dataset type names bad images as its pipeline loads them.
``--skip-data-check`` (or the environment variable
``GHOSTDET_SKIP_DATA_CHECK=1``) turns it off.
"""
import os
from contextlib import contextmanager
from functools import partial
from typing import Iterator

from mmcv.transforms import LoadImageFromFile
from mmdet.datasets import CocoDataset
from mmdet.datasets.api_wrappers import COCO
from mmdet.registry import DATASETS
from mmengine.dist import barrier, broadcast_object_list, get_dist_info
from mmengine.logging import print_log

from ..errors import DatasetError
from .coco import check_coco_dict, load_coco_json
from .images import CheckedLoadImageFromFile

SKIP_ENV = 'GHOSTDET_SKIP_DATA_CHECK'


def data_check_enabled() -> bool:
    """Whether the annotation check runs (``GHOSTDET_SKIP_DATA_CHECK`` unset
    or 0)."""
    return os.environ.get(SKIP_ENV, '0') in ('', '0')


@contextmanager
def annotation_check_skipped() -> Iterator[None]:
    """Inside the context, datasets load without the annotation check."""
    previous = os.environ.get(SKIP_ENV)
    os.environ[SKIP_ENV] = '1'
    try:
        yield
    finally:
        if previous is None:
            del os.environ[SKIP_ENV]
        else:
            os.environ[SKIP_ENV] = previous


class CheckedCOCO(COCO):
    """MMDetection's COCO API that checks the parsed annotation file before
    indexing it.

    Args:
        annotation_file (str): The annotation file.
        classes (Sequence[str], optional): The dataset's ``metainfo.classes``.
    """

    def __init__(self, annotation_file, *, classes=None):
        super().__init__()  # an empty index
        self.dataset = load_coco_json(annotation_file)
        _verdict_of_rank_0(self.dataset, str(annotation_file), classes)
        self.createIndex()
        self.img_ann_map = self.imgToAnns
        self.cat_img_map = self.catToImgs


def _verdict_of_rank_0(data, source, classes):
    """Rank 0 checks; every rank raises its error or logs its warning."""
    rank, world_size = get_dist_info()
    verdict = [None, None]  # error message, warning
    if rank == 0:
        try:
            verdict[1] = check_coco_dict(data, source=source, classes=classes).warning(source)
        except DatasetError as error:
            verdict[0] = str(error)
    if world_size > 1:
        broadcast_object_list(verdict, src=0)
    error, warning = verdict
    if error is not None:
        if world_size > 1:
            # Rank 0's broadcast may return before the others have received
            # it; had it exited then, the launcher would kill them silently.
            barrier()
        error = DatasetError(error)
        error.raised_by_every_rank = True  # the CLI waits until every rank printed it
        raise error
    if warning is not None and rank == 0:
        print_log(warning, logger='current', level=30)


@DATASETS.register_module()
class CheckedCocoDataset(CocoDataset):
    """MMDetection's ``CocoDataset`` with ghostdet's data checks, switched on
    by naming it in a config (``dataset=dict(type='CheckedCocoDataset', ...)``):

    - its annotation file is checked as it loads: what MMDetection would skip
      is counted in a warning, what breaks training or evaluation stops the
      run naming the entries;
    - with ``check_images`` (the default) its pipeline loads images with
      :class:`~ghostdet.data_check.images.CheckedLoadImageFromFile` where the
      config says ``LoadImageFromFile``, so a missing, empty, undecodable or
      truncated image is named. The config itself keeps MMDetection's
      ``LoadImageFromFile``, which ``DetInferencer`` looks for.

    Args:
        check_images (bool): Name bad images. Default: True.
        **kwargs: ``CocoDataset``'s arguments.
    """

    def __init__(self, *args, check_images: bool = True, **kwargs):
        if check_images and kwargs.get('pipeline'):
            kwargs['pipeline'] = [_checked_loader(step) for step in kwargs['pipeline']]
        super().__init__(*args, **kwargs)

    @property
    def COCOAPI(self):
        if not data_check_enabled():
            return COCO
        return partial(CheckedCOCO, classes=self.metainfo.get('classes'))


def _checked_loader(step):
    if isinstance(step, dict) and step.get('type') in ('LoadImageFromFile',
                                                       'mmcv.LoadImageFromFile',
                                                       LoadImageFromFile):
        return dict(step, type=CheckedLoadImageFromFile)
    return step
