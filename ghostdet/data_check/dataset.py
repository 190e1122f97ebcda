"""Everything about a config's datasets checked before a long run, images
decoded one by one (``tools/check_dataset.py``)."""
import os.path as osp
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Dict, List, Optional, Sequence

from mmengine.config import Config

from .coco import check_coco_dict, load_coco_json
from .config_paths import ALL_DATALOADERS, check_datasets, configured_datasets
from .images import image_problem


def _classes(dataset_cfg) -> Optional[Sequence[str]]:
    """The classes a COCO-style dataset config loads: its metainfo's, else
    its dataset class's own (CocoDataset's 80)."""
    from mmdet.registry import DATASETS
    metainfo = dataset_cfg.get('metainfo') or {}
    if metainfo.get('classes'):
        return tuple(metainfo['classes'])
    dataset_class = DATASETS.get(dataset_cfg.get('type'))
    return tuple(getattr(dataset_class, 'METAINFO', {}).get('classes', ())) or None


def check_dataset_files(cfg: Config,
                        *,
                        dataloader_keys: Sequence[str] = ALL_DATALOADERS,
                        decode_images: bool = True,
                        workers: int = 1,
                        progress: Optional[Callable[[int, int], None]] = None) -> Dict:
    """Check a config's datasets: the paths exist, each COCO annotation file
    is sound (:func:`~ghostdet.data_check.coco.check_coco_dict`), and every
    image it lists decodes whole
    (:func:`~ghostdet.data_check.images.image_problem`).

    Args:
        cfg (:obj:`mmengine.Config`): The config.
        dataloader_keys (Sequence[str]): Dataloaders whose datasets to check.
        decode_images (bool): Decode every image. Default: True.
        workers (int): Processes decoding images. Default: 1.
        progress (callable, optional): Called as ``progress(done, total)``
            while images are decoded.

    Returns:
        dict: ``annotation_files`` (checked), ``warnings`` (what MMDetection
        will skip), ``num_images`` (decoded) and ``bad_images`` (a list of
        ``(path, reason)``).

    Raises:
        DatasetNotFoundError: A path is missing.
        DatasetError: An annotation file is malformed.
    """
    check_datasets(cfg, dataloader_keys)
    files, warnings, images = [], [], []
    for dataset in configured_datasets(cfg, dataloader_keys):
        if 'Coco' not in dataset.type or not str(dataset.ann_file).endswith('.json') or \
                dataset.ann_file in files:
            continue
        files.append(dataset.ann_file)
        data = load_coco_json(dataset.ann_file)
        report = check_coco_dict(data, source=dataset.ann_file,
                                 classes=_classes(dataset.cfg))
        if report.warning(dataset.ann_file):
            warnings.append(report.warning(dataset.ann_file))
        images += [osp.join(dataset.image_dir or '', image['file_name'])
                   for image in data['images']]
    images = list(dict.fromkeys(images))
    bad: List = _decode_all(images, workers, progress) if decode_images else []
    return dict(annotation_files=files, warnings=warnings,
                num_images=len(images) if decode_images else 0, bad_images=bad)


def _decode_all(paths, workers, progress):
    if workers <= 1:
        return _collect(paths, map(image_problem, paths), progress)
    with ProcessPoolExecutor(workers) as pool:
        chunk = max(1, min(64, len(paths) // (4 * workers)))
        return _collect(paths, pool.map(image_problem, paths, chunksize=chunk), progress)


def _collect(paths, problems, progress):
    bad = []
    for done, (path, problem) in enumerate(zip(paths, problems), start=1):
        if problem is not None:
            bad.append((path, problem))
        if progress is not None and (done % 500 == 0 or done == len(paths)):
            progress(done, len(paths))
    return bad
