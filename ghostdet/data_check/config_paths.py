"""Check a config's datasets before a run starts.

MMDetection only notices a missing dataset or a malformed annotation file deep
inside the runner, with a traceback that does not say what to do. These checks
name the missing path or the bad entry, the config key behind it, and the fix.
"""
import os.path as osp
from typing import Iterator, List, NamedTuple, Optional, Sequence

from mmengine.config import Config

from ..errors import DatasetNotFoundError

ALL_DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


class ConfiguredDataset(NamedTuple):
    """A leaf dataset of a config (wrappers such as ``RepeatDataset`` and
    ``ConcatDataset`` looked through), with its paths joined to ``data_root``.

    Attributes:
        key (str): Where it is in the config, e.g.
            ``val_dataloader.dataset.dataset``.
        type (str): Its registry type.
        data_root (str, optional): Its ``data_root``.
        ann_file (str, optional): Its annotation file.
        image_dir (str, optional): Its image folder (``data_prefix.img``).
        split (str, optional): MMPretrain's ``split``.
        cfg (dict): The dataset's config itself.
    """
    key: str
    type: str
    data_root: Optional[str]
    ann_file: Optional[str]
    image_dir: Optional[str]
    split: Optional[str]
    cfg: dict


def _join(root, path):
    if not path or osp.isabs(path) or '://' in path:
        return path
    return osp.join(root or '', path)


def _image_prefix(dataset):
    """``data_prefix`` is a dict in MMDetection (``img``/``img_path``) and
    may be a plain string in MMPretrain."""
    prefix = dataset.get('data_prefix') or {}
    if isinstance(prefix, str):
        return prefix
    return prefix.get('img', prefix.get('img_path'))


def leaf_datasets(dataset_cfg: Optional[dict], key: str = 'dataset') -> Iterator[tuple]:
    """``(config key, dataset cfg)`` of the datasets a dataset cfg holds,
    looking through wrappers (``ConcatDataset``, ``RepeatDataset``, ...)."""
    if dataset_cfg is None:
        return
    if 'datasets' in dataset_cfg:  # ConcatDataset
        for index, sub in enumerate(dataset_cfg['datasets']):
            yield from leaf_datasets(sub, f'{key}.datasets[{index}]')
    elif 'dataset' in dataset_cfg:  # RepeatDataset, ClassBalancedDataset, ...
        yield from leaf_datasets(dataset_cfg['dataset'], f'{key}.dataset')
    else:
        yield key, dataset_cfg


def configured_datasets(cfg: Config,
                        dataloader_keys: Sequence[str] = ALL_DATALOADERS
                        ) -> Iterator[ConfiguredDataset]:
    """The leaf datasets of the given dataloaders of a config."""
    for loader_key in dataloader_keys:
        loader = cfg.get(loader_key)
        if not loader:
            continue
        for key, dataset in leaf_datasets(loader.get('dataset'), f'{loader_key}.dataset'):
            data_root = dataset.get('data_root')
            yield ConfiguredDataset(key, str(dataset.get('type', '')), data_root,
                                    _join(data_root, dataset.get('ann_file')),
                                    _join(data_root, _image_prefix(dataset)),
                                    dataset.get('split'), dataset)


_HINTS = {
    'coco': ('For MS-COCO 2017, download train2017/, val2017/ and annotations/ from '
             'cocodataset.org and lay them out under data/coco/ as data/README.md shows.\n'
             '  To try ghostdet without COCO, use the generated small dataset: '
             '`python tools/make_dataset.py` then a *_small.py config.'),
    'imagenet': ('For ImageNet-1k, lay out train/ and val/ class folders (or meta/train.txt '
                 'and meta/val.txt) under data/imagenet/ as the config header describes.'),
    'other': 'Lay out the dataset as its config describes.',
}


def _dataset_kind(dataset_type):
    dataset_type = str(dataset_type or '')
    if 'Coco' in dataset_type:
        return 'coco'
    if dataset_type.startswith('ImageNet') or dataset_type == 'CustomDataset':
        return 'imagenet'
    return 'other'


def _missing_message(key, what, path, data_root, dataset_type):
    hint_key = f'{key}.data_root' if data_root else f'{key}.{what}'
    return (f'{what} "{path}" does not exist ({key}, data_root="{data_root or ""}").\n'
            f'  {_HINTS[_dataset_kind(dataset_type)]}\n'
            f'  Or point the config at your copy with --cfg-options {hint_key}=/path/to/it/')


def _is_missing(path, exists):
    return bool(path) and '://' not in path and not exists(path)


def _split_folder_missing(dataset: ConfiguredDataset) -> Optional[str]:
    """MMPretrain's ``split``: a folder ``data_root/<split>`` or a list file
    ``data_root/meta/<split>.txt`` must exist, unless ``ann_file`` is given."""
    root = dataset.data_root
    if not dataset.split or dataset.ann_file or not root or '://' in root:
        return None
    folder = osp.join(root, dataset.split)
    if osp.isdir(folder) or osp.isfile(osp.join(root, 'meta', f'{dataset.split}.txt')):
        return None
    return folder


def _dataset_problems(dataset: ConfiguredDataset) -> List[str]:
    if _is_missing(dataset.data_root, osp.isdir):
        return [_missing_message(dataset.key, 'data_root', dataset.data_root, dataset.data_root,
                                 dataset.type)]
    problems = []
    for what, path, exists in (('ann_file', dataset.ann_file, osp.isfile),
                               ('data_prefix.img', dataset.image_dir, osp.isdir),
                               ('split folder', _split_folder_missing(dataset), osp.isdir)):
        if _is_missing(path, exists):
            problems.append(_missing_message(dataset.key, what, path, dataset.data_root,
                                             dataset.type))
    return problems


def _evaluator_problems(cfg, dataloader_keys):
    for loader_key in dataloader_keys:
        evaluator_key = loader_key.replace('dataloader', 'evaluator')
        evaluators = cfg.get(evaluator_key) or []
        for evaluator in evaluators if isinstance(evaluators, (list, tuple)) else [evaluators]:
            ann_file = evaluator.get('ann_file')
            if _is_missing(ann_file, osp.isfile):
                yield _missing_message(evaluator_key, 'ann_file', ann_file, None,
                                       evaluator.get('type'))


def dataset_path_problems(cfg: Config,
                          dataloader_keys: Sequence[str] = ALL_DATALOADERS) -> List[str]:
    """List the missing dataset paths of a config.

    Args:
        cfg (:obj:`mmengine.Config`): The config.
        dataloader_keys (Sequence[str]): Dataloaders to check, with their
            evaluators.

    Returns:
        list[str]: One message per missing annotation file, image folder or
        evaluator ``ann_file``; empty when everything exists.
    """
    problems = []
    for dataset in configured_datasets(cfg, dataloader_keys):
        problems += _dataset_problems(dataset)
    problems += _evaluator_problems(cfg, dataloader_keys)
    return list(dict.fromkeys(problems))


def check_datasets(cfg: Config, dataloader_keys: Sequence[str] = ALL_DATALOADERS) -> None:
    """Check that the dataset files and folders a config names exist.

    The annotation files themselves are checked as MMDetection loads them
    (:mod:`ghostdet.data_check.coco_loading`), so they are parsed once.

    Args:
        cfg (:obj:`mmengine.Config`): The config.
        dataloader_keys (Sequence[str]): Dataloaders to check.

    Raises:
        DatasetNotFoundError: A dataset path is missing.
    """
    problems = dataset_path_problems(cfg, dataloader_keys)
    if problems:
        raise DatasetNotFoundError('Dataset not found:\n' + '\n'.join(
            f'- {problem}' for problem in problems))
