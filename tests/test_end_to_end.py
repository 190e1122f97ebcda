"""Train, evaluate, resume and test small detectors on a generated dataset."""
import glob
import json
import os
import os.path as osp
import pickle

import pytest
import torch

from conftest import run_tool
from ghostdet.datasets import make_coco_dataset
from ghostdet.runner import test as run_test
from ghostdet.runner import train

ITERS_PER_EPOCH = 4  # 16 training images, batch size 4


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp('small')
    return make_coco_dataset(root, num_train=16, num_val=8, seed=1, min_size=128,
                             max_size=160, max_objects=3)


def data_options(dataset, max_epochs=2):
    root = osp.join(dataset['out_dir'], '')
    options = {
        'train_cfg.max_epochs': max_epochs,
        'train_cfg.val_interval': 1,
        'train_dataloader.batch_size': 4,
        'default_hooks.logger.interval': 1,
        'default_hooks.checkpoint.max_keep_ckpts': -1,
        'param_scheduler.0.end': 2,
        # A model trained for a few iterations scores everything low: keep all
        # its detections so that COCO evaluation has something to score.
        'model.test_cfg.score_thr': 0.0,
        'val_evaluator.ann_file': dataset['val_ann_file'],
        'test_evaluator.ann_file': dataset['val_ann_file'],
    }
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options[f'{loader}.dataset.data_root'] = root
        options[f'{loader}.num_workers'] = 0
        options[f'{loader}.persistent_workers'] = False
    return options


def scalars(work_dir):
    """Records of the newest run's vis_data/scalars.json."""
    newest = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))[-1]
    with open(newest) as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope='module')
def trained_retinanet(dataset, tmp_path_factory):
    assert 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD' not in os.environ
    work_dir = str(tmp_path_factory.mktemp('retinanet'))
    runner = train('configs/retinanet_ghostnet_small.py', work_dir=work_dir,
                   cfg_options=data_options(dataset))
    return runner, work_dir


def test_training_evaluates_with_coco_metric(trained_retinanet):
    runner, work_dir = trained_retinanet
    assert runner.epoch == 2 and runner.iter == 2 * ITERS_PER_EPOCH
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    assert osp.isfile(osp.join(work_dir, 'epoch_2.pth'))
    records = scalars(work_dir)
    losses = [r['loss'] for r in records if 'loss' in r]
    assert len(losses) == 2 * ITERS_PER_EPOCH and all(torch.isfinite(torch.tensor(losses)))
    evaluations = [r for r in records if 'coco/bbox_mAP' in r]
    assert len(evaluations) == 2  # one per epoch
    for record in evaluations:
        assert 0.0 <= record['coco/bbox_mAP'] <= 1.0
        assert {'coco/bbox_mAP_50', 'coco/bbox_mAP_75', 'coco/bbox_mAP_s'} <= set(record)


def test_resume_continues_from_the_checkpoint(trained_retinanet, dataset, tmp_path):
    _, first_dir = trained_retinanet
    runner = train('configs/retinanet_ghostnet_small.py', work_dir=str(tmp_path),
                   resume=osp.join(first_dir, 'epoch_1.pth'),
                   cfg_options=data_options(dataset))
    assert runner.epoch == 2 and runner.iter == 2 * ITERS_PER_EPOCH
    steps = [r['step'] for r in scalars(str(tmp_path)) if 'loss' in r]
    # Only the second epoch was trained again.
    assert steps == list(range(ITERS_PER_EPOCH + 1, 2 * ITERS_PER_EPOCH + 1))


def test_test_tool_evaluates_dumps_and_draws(trained_retinanet, dataset, tmp_path):
    _, work_dir = trained_retinanet
    options = [f'{k}={v}' for k, v in data_options(dataset).items()]
    out = tmp_path / 'predictions.pkl'
    result = run_tool(['tools/test.py', 'configs/retinanet_ghostnet_small.py',
                       osp.join(work_dir, 'epoch_2.pth'), '--work-dir', str(tmp_path),
                       '--out', str(out), '--show-dir', 'pictures',
                       '--cfg-options', *options])
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'coco/bbox_mAP' in result.stdout + result.stderr
    with open(out, 'rb') as f:
        predictions = pickle.load(f)
    assert len(predictions) == 8
    assert {'pred_instances', 'img_id'} <= set(predictions[0])
    pictures = glob.glob(str(tmp_path / '*' / 'pictures' / '*.jpg'))
    assert len(pictures) == 8


def test_test_function_returns_metrics(trained_retinanet, dataset, tmp_path):
    _, work_dir = trained_retinanet
    metrics = run_test('configs/retinanet_ghostnet_small.py', osp.join(work_dir, 'epoch_2.pth'),
                       work_dir=str(tmp_path), cfg_options=data_options(dataset))
    assert 0.0 <= metrics['coco/bbox_mAP'] <= 1.0


def test_pretrained_init_cfg_loads_a_backbone(trained_retinanet):
    from mmdet.registry import MODELS
    from mmengine.config import Config
    _, work_dir = trained_retinanet
    checkpoint = osp.join(work_dir, 'epoch_2.pth')
    cfg = Config.fromfile('configs/retinanet_ghostnet.py')
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=checkpoint,
                                       prefix='backbone.')
    model = MODELS.build(cfg.model)
    model.init_weights()
    saved = torch.load(checkpoint, weights_only=True)['state_dict']
    for name, value in model.backbone.state_dict().items():
        torch.testing.assert_close(value, saved[f'backbone.{name}'], msg=name)


def test_faster_rcnn_small_trains(dataset, tmp_path):
    options = data_options(dataset, max_epochs=1)
    del options['model.test_cfg.score_thr']
    options['model.test_cfg.rcnn.score_thr'] = 0.0
    runner = train('configs/faster_rcnn_ghostnet_small.py', work_dir=str(tmp_path),
                   cfg_options=options)
    assert runner.iter == ITERS_PER_EPOCH
    records = scalars(str(tmp_path))
    assert any('coco/bbox_mAP' in r for r in records)
    assert all(torch.isfinite(torch.tensor(r['loss'])) for r in records if 'loss' in r)


def test_demo_runs_end_to_end(tmp_path):
    from ghostdet.demo import run_demo
    result = run_demo(work_dir=str(tmp_path / 'demo'), data_root=str(tmp_path / 'data'),
                      num_train=8, num_val=4, num_pictures=2,
                      cfg_options={'train_cfg.max_epochs': 1,
                                   'train_dataloader.batch_size': 4,
                                   'param_scheduler.0.end': 1,
                                   'model.test_cfg.score_thr': 0.0})
    assert 'coco/bbox_mAP' in result  # evaluated by pycocotools, not defaulted
    assert result['bbox_mAP'] == result['coco/bbox_mAP']
    assert 0.0 <= result['bbox_mAP_50'] <= 1.0
    assert osp.getsize(result['picture']) > 1000
    assert osp.isfile(result['checkpoint'])
