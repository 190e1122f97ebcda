"""Check a config's datasets before a run starts.

MMDetection only notices a missing dataset or a malformed annotation file deep
inside the runner, with a traceback that does not say what to do. These checks
name the missing path or the bad entry, the config key behind it, and the fix.
"""
import os.path as osp

from .datasets import DatasetError, check_coco_annotations


class DatasetNotFoundError(FileNotFoundError):
    """A dataset file or folder named by a config does not exist."""


def _iter_datasets(dataset_cfg, key):
    """Yield ``(config key, dataset cfg)`` for a dataset and those it wraps."""
    if dataset_cfg is None:
        return
    if 'datasets' in dataset_cfg:  # ConcatDataset
        for index, sub in enumerate(dataset_cfg['datasets']):
            yield from _iter_datasets(sub, f'{key}.datasets[{index}]')
    elif 'dataset' in dataset_cfg:  # RepeatDataset, ClassBalancedDataset, ...
        yield from _iter_datasets(dataset_cfg['dataset'], f'{key}.dataset')
    else:
        yield key, dataset_cfg


def _join(root, path):
    if not path or osp.isabs(path) or '://' in path:
        return path
    return osp.join(root or '', path)


def _image_prefix(dataset):
    """The image folder of a dataset cfg: ``data_prefix`` is a dict in
    MMDetection (``img``/``img_path``) and may be a plain string in MMPretrain."""
    prefix = dataset.get('data_prefix') or {}
    if isinstance(prefix, str):
        return prefix
    return prefix.get('img', prefix.get('img_path'))


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
    if 'Coco' in dataset_type or dataset_type == 'CocoMetric':
        return 'coco'
    if dataset_type.startswith('ImageNet') or dataset_type == 'CustomDataset':
        return 'imagenet'
    return 'other'


def _missing_message(key, what, path, data_root, dataset_type):
    hint_key = f'{key}.data_root' if data_root else f'{key}.{what}'
    return (f'{what} "{path}" does not exist ({key}, data_root="{data_root or ""}").\n'
            f'  {_HINTS[_dataset_kind(dataset_type)]}\n'
            f'  Or point the config at your copy with --cfg-options {hint_key}=/path/to/it/')


def _split_missing(dataset, data_root):
    """MMPretrain's ``split``: a folder ``data_root/<split>`` or a list file
    ``data_root/meta/<split>.txt`` must exist, unless ``ann_file`` is given."""
    split = dataset.get('split')
    if not split or dataset.get('ann_file') or not data_root or '://' in data_root:
        return None
    folder = osp.join(data_root, split)
    if osp.isdir(folder) or osp.isfile(osp.join(data_root, 'meta', f'{split}.txt')):
        return None
    return folder


def dataset_path_problems(cfg, dataloader_keys=('train_dataloader', 'val_dataloader',
                                                'test_dataloader')):
    """List the missing dataset paths of a config.

    Args:
        cfg (:obj:`mmengine.Config`): The config.
        dataloader_keys (Sequence[str]): Dataloaders to check.

    Returns:
        list[str]: One message per missing annotation file, image folder or
        evaluator ``ann_file``; empty when everything exists.
    """
    problems = []
    for loader_key in dataloader_keys:
        loader = cfg.get(loader_key)
        if not loader:
            continue
        for key, dataset in _iter_datasets(loader.get('dataset'), f'{loader_key}.dataset'):
            data_root, kind = dataset.get('data_root'), dataset.get('type')
            if data_root and '://' not in data_root and not osp.isdir(data_root):
                problems.append(_missing_message(key, 'data_root', data_root, data_root, kind))
                continue
            ann_file = _join(data_root, dataset.get('ann_file'))
            if ann_file and '://' not in ann_file and not osp.isfile(ann_file):
                problems.append(_missing_message(key, 'ann_file', ann_file, data_root, kind))
            image_dir = _join(data_root, _image_prefix(dataset))
            if image_dir and '://' not in image_dir and not osp.isdir(image_dir):
                problems.append(
                    _missing_message(key, 'data_prefix.img', image_dir, data_root, kind))
            split_folder = _split_missing(dataset, data_root)
            if split_folder:
                problems.append(_missing_message(key, 'split folder', split_folder, data_root,
                                                 kind))
    for evaluator_key in ('val_evaluator', 'test_evaluator'):
        loader_key = evaluator_key.replace('evaluator', 'dataloader')
        if loader_key not in dataloader_keys or not cfg.get(evaluator_key):
            continue
        evaluators = cfg[evaluator_key]
        for evaluator in evaluators if isinstance(evaluators, (list, tuple)) else [evaluators]:
            ann_file = evaluator.get('ann_file')
            if ann_file and '://' not in ann_file and not osp.isfile(ann_file):
                problems.append(_missing_message(evaluator_key, 'ann_file', ann_file, None,
                                                 evaluator.get('type')))
    return problems


def check_datasets(cfg, dataloader_keys=('train_dataloader', 'val_dataloader',
                                         'test_dataloader'), check_annotations=True):
    """Check that a config's datasets exist and their COCO files are sound.

    Args:
        cfg (:obj:`mmengine.Config`): The config.
        dataloader_keys (Sequence[str]): Dataloaders to check.
        check_annotations (bool): Also validate the JSON annotation files of
            COCO-style datasets (:func:`ghostdet.datasets.check_coco_annotations`).

    Raises:
        DatasetNotFoundError: A dataset path is missing.
        DatasetError: An annotation file is malformed.
    """
    problems = dataset_path_problems(cfg, dataloader_keys)
    if problems:
        raise DatasetNotFoundError('Dataset not found:\n' + '\n'.join(
            f'- {problem}' for problem in dict.fromkeys(problems)))
    if not check_annotations:
        return
    checked = set()
    for loader_key in dataloader_keys:
        loader = cfg.get(loader_key)
        if not loader:
            continue
        for key, dataset in _iter_datasets(loader.get('dataset'), f'{loader_key}.dataset'):
            ann_file = _join(dataset.get('data_root'), dataset.get('ann_file'))
            if 'Coco' not in str(dataset.get('type', '')) or not str(ann_file).endswith(
                    '.json') or ann_file in checked:
                continue
            checked.add(ann_file)
            image_dir = _join(dataset.get('data_root'), _image_prefix(dataset))
            try:
                check_coco_annotations(ann_file, image_dir, check_images=bool(image_dir))
            except DatasetError as error:
                raise DatasetError(f'{key}: {error}') from None
