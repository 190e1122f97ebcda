"""The `make demo` job: generate the small dataset, train RetinaNet-GhostNet on it,
evaluate COCO bbox mAP on the held-out split and draw some predictions."""
import json
import os.path as osp
import time

DEFAULT_CONFIG = 'configs/retinanet_ghostnet_small.py'


def _last_checkpoint(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def run_demo(config=DEFAULT_CONFIG, work_dir='work_dirs/demo', data_root='data/small',
             num_train=800, num_val=200, seed=0, num_pictures=4, cfg_options=None):
    """Run the demo end to end and return its metrics.

    Args:
        config (str): Detector config trained on ``data_root``.
        work_dir (str): Where logs, checkpoints and the picture go.
        data_root (str): Where the dataset is generated.
        num_train (int): Generated training images.
        num_val (int): Generated held-out images.
        seed (int): Seed of the dataset and of training.
        num_pictures (int): Held-out images drawn with their predictions.
        cfg_options (dict, optional): Extra config overrides.

    Returns:
        dict: ``bbox_mAP``, ``bbox_mAP_50``, all ``coco/*`` metrics, the
        checkpoint and picture paths, and the seconds each step took.
    """
    from ghostdet.datasets import make_coco_dataset
    from ghostdet.runner import test, train
    from ghostdet.visualization import draw_predictions

    timings = {}
    start = time.time()
    print(f'==> [demo] generating the small dataset in {data_root}', flush=True)
    dataset = make_coco_dataset(data_root, num_train=num_train, num_val=num_val, seed=seed)
    timings['dataset_s'] = time.time() - start

    # No validation during training: the test step below evaluates the same split.
    options = dict(randomness=dict(seed=seed), val_cfg=None, val_dataloader=None,
                   val_evaluator=None)
    data_options = {}
    if osp.normpath(data_root) != osp.normpath('data/small'):
        root = osp.join(data_root, '')
        for loader in ('train_dataloader', 'test_dataloader'):
            data_options[f'{loader}.dataset.data_root'] = root
        data_options['test_evaluator.ann_file'] = dataset['val_ann_file']
    options.update(data_options, **(cfg_options or {}))

    step = time.time()
    print(f'==> [demo] training {config}', flush=True)
    train(config, work_dir=work_dir, cfg_options=options)
    timings['train_s'] = time.time() - step

    step = time.time()
    checkpoint = _last_checkpoint(work_dir)
    print(f'==> [demo] evaluating {checkpoint} on the held-out split', flush=True)
    metrics = test(config, checkpoint, work_dir=work_dir, cfg_options=options)
    timings['test_s'] = time.time() - step

    step = time.time()
    with open(dataset['val_ann_file']) as f:
        images = json.load(f)['images'][:num_pictures]
    picture = osp.join(work_dir, 'predictions.jpg')
    draw_predictions(config, checkpoint,
                     [osp.join(dataset['val_img_dir'], image['file_name']) for image in images],
                     picture, cfg_options=data_options)
    timings['draw_s'] = time.time() - step
    timings['total_s'] = time.time() - start

    # CocoMetric returns no keys when the model detected nothing at all.
    return dict(metrics, bbox_mAP=metrics.get('coco/bbox_mAP', 0.0),
                bbox_mAP_50=metrics.get('coco/bbox_mAP_50', 0.0), checkpoint=checkpoint,
                picture=picture, **timings)
