"""The `make demo` job: generate the small dataset where the config expects it,
train the config's detector on it, evaluate COCO bbox mAP on the held-out
split and draw some predictions."""
import json
import os.path as osp
import pickle
import time
from typing import Optional

from ghostdet.errors import InputError


def _last_checkpoint(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def _train_dataset_key(cfg):
    """The config key and config of the training dataset the demo moves to
    its data root: the loader's own dataset, or the innermost of wrappers that
    hold one ``dataset`` (MultiImageMixDataset, RepeatDataset,
    ClassBalancedDataset)."""
    key, dataset = 'train_dataloader.dataset', cfg.train_dataloader.dataset
    while dataset.get('data_root') is None and isinstance(dataset.get('dataset'), dict):
        key, dataset = key + '.dataset', dataset.dataset
    if 'datasets' in dataset:
        raise InputError(
            f"{key} is a list of datasets (type {dataset.get('type')!r}); the demo "
            f"generates one dataset and trains on it: give {key} a single dataset, "
            f"wrapped or not")
    return key, dataset


def _data_overrides(cfg, data_root, val_ann_file):
    """``--cfg-options`` that move the loaders the demo runs (train, test)
    and the test evaluator to ``data_root``; none if the config already
    reads it."""
    key, dataset = _train_dataset_key(cfg)
    configured = dataset.get('data_root')
    if configured is not None and osp.normpath(configured) == osp.normpath(data_root):
        return {}
    root = osp.join(data_root, '')
    return {f'{key}.data_root': root,
            'test_dataloader.dataset.data_root': root,
            'test_evaluator.ann_file': val_ann_file}


def run_demo(config: str,
             *,
             work_dir: str,
             data_root: Optional[str] = None,
             num_train: int = 800,
             num_val: int = 200,
             seed: int = 0,
             num_pictures: int = 4,
             score_thr: float = 0.3,
             cfg_options: Optional[dict] = None) -> dict:
    """Run the demo end to end and return its metrics.

    Args:
        config (str): Config of a detector trained on the generated dataset
            (a ``*_small.py`` config).
        work_dir (str): Where logs, checkpoints and the picture go.
        data_root (str, optional): Where the dataset is generated. Default:
            the config's own ``train_dataloader.dataset.data_root`` (that of
            the innermost dataset if the training set is wrapped).
        num_train (int): Generated training images.
        num_val (int): Generated held-out images.
        seed (int): Seed of the dataset and of training.
        num_pictures (int): Held-out images drawn with their predictions.
        score_thr (float): Predictions scoring less are not drawn, nor
            counted as an object's label.
        cfg_options (dict, optional): Extra config overrides.

    Returns:
        dict: ``bbox_mAP``, ``bbox_mAP_50``, all ``coco/*`` metrics, the
        ``checkpoint`` and ``picture`` paths, ``num_boxes_drawn``, the
        held-out objects given two or more labels
        (:func:`ghostdet.analysis.labels.count_multi_label_objects`:
        ``num_objects``, ``num_multi_label``, ``multi_label_share``,
        ``num_found``) and the seconds each step took.
    """
    from ghostdet.analysis.labels import count_multi_label_objects
    from ghostdet.runner import load_config, test, train
    from ghostdet.synthetic import make_coco_dataset
    from ghostdet.visualization import draw_predictions

    cfg = load_config(config, cfg_options=cfg_options)
    train_key, train_dataset = _train_dataset_key(cfg)
    data_root = data_root or train_dataset.get('data_root')
    if not data_root:
        raise InputError(f'{train_key} has no data_root, so the demo does not know where to '
                         f'generate the dataset: give it one in the config or pass --data-root')
    timings = {}
    start = time.time()
    print(f'==> [demo] generating the small dataset in {data_root}', flush=True)
    dataset = make_coco_dataset(data_root, num_train=num_train, num_val=num_val, seed=seed)
    timings['dataset_s'] = time.time() - start

    data_options = _data_overrides(cfg, data_root, dataset['val_ann_file'])
    # No validation during training: the test step below evaluates the same split.
    options = dict(randomness=dict(seed=seed), val_cfg=None, val_dataloader=None,
                   val_evaluator=None, **data_options, **(cfg_options or {}))

    step = time.time()
    print(f'==> [demo] training {config}', flush=True)
    train(config, work_dir=work_dir, cfg_options=options)
    timings['train_s'] = time.time() - step

    step = time.time()
    checkpoint = _last_checkpoint(work_dir)
    print(f'==> [demo] evaluating {checkpoint} on the held-out split', flush=True)
    predictions_file = osp.join(work_dir, 'predictions.pkl')
    metrics = test(config, checkpoint, work_dir=work_dir, out=predictions_file,
                   cfg_options=options)
    timings['test_s'] = time.time() - step
    with open(predictions_file, 'rb') as f:
        labels = count_multi_label_objects(pickle.load(f), dataset['val_ann_file'],
                                           score_thr=score_thr)

    step = time.time()
    with open(dataset['val_ann_file']) as f:
        images = json.load(f)['images'][:num_pictures]
    picture = osp.join(work_dir, 'predictions.jpg')
    predictions = draw_predictions(
        config, checkpoint,
        [osp.join(dataset['val_img_dir'], image['file_name']) for image in images], picture,
        score_thr=score_thr, ann_file=dataset['val_ann_file'],
        cfg_options={**data_options, **(cfg_options or {})})
    timings['draw_s'] = time.time() - step
    timings['total_s'] = time.time() - start

    # CocoMetric returns no keys when the model detected nothing at all.
    return dict(metrics, bbox_mAP=metrics.get('coco/bbox_mAP', 0.0),
                bbox_mAP_50=metrics.get('coco/bbox_mAP_50', 0.0), checkpoint=checkpoint,
                picture=picture, num_boxes_drawn=predictions['num_boxes_drawn'], **labels,
                **timings)
