"""Train, evaluate, resume and test small detectors on a generated dataset."""
import glob
import json
import os.path as osp
import pickle

import pytest
import torch
from mmengine.config import Config

from conftest import (CONFIG, EPOCHS, HALF, as_cli, call_tool, learning_options, scalars,
                      small_run_options)
from ghostdet.checkpoint import load_checkpoint_file
from ghostdet.runner import test as run_test
from ghostdet.runner import train


def test_loss_falls_by_at_least_half(learned):
    work_dir = learned
    assert load_checkpoint_file(osp.join(work_dir, f'epoch_{EPOCHS}.pth'))['meta']['iter'] == EPOCHS
    losses = [r['loss'] for r in scalars(work_dir) if 'loss' in r]
    assert len(losses) == EPOCHS and all(torch.isfinite(torch.tensor(losses)))
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last <= 0.5 * first, (first, last)


def test_the_run_s_config_is_kept_as_loadable_text(learned):
    """The config dumped in the work dir and the one in each checkpoint's
    meta load back as the run's config."""
    checkpoint = load_checkpoint_file(osp.join(learned, f'epoch_{EPOCHS}.pth'))
    from_checkpoint = Config.fromstring(checkpoint['meta']['cfg'], '.py')
    dumped = Config.fromfile(osp.join(learned, osp.basename(CONFIG)))
    assert from_checkpoint.to_dict() == dumped.to_dict()
    assert from_checkpoint.train_cfg.max_epochs == EPOCHS
    assert from_checkpoint.model.backbone.type == 'GhostNet'


def test_training_evaluates_with_coco_metric(learned):
    work_dir = learned
    assert sorted(glob.glob(osp.join(work_dir, 'epoch_*.pth'))) == [
        osp.join(work_dir, f'epoch_{HALF}.pth'), osp.join(work_dir, f'epoch_{EPOCHS}.pth')]
    evaluations = [r for r in scalars(work_dir) if 'coco/bbox_mAP' in r]
    assert [r['step'] for r in evaluations] == [HALF, EPOCHS]
    for record in evaluations:
        assert {'coco/bbox_mAP_50', 'coco/bbox_mAP_75', 'coco/bbox_mAP_s'} <= set(record)
    # It learned the images it was trained on.
    assert evaluations[-1]['coco/bbox_mAP_50'] > 0.1


def test_test_tool_and_function_agree_with_the_logged_validation(learned, dataset, tmp_path):
    work_dir = learned
    logged = [r for r in scalars(work_dir) if 'coco/bbox_mAP' in r][-1]
    checkpoint = osp.join(work_dir, f'epoch_{EPOCHS}.pth')
    options = learning_options(dataset)

    metrics = run_test(CONFIG, checkpoint, work_dir=str(tmp_path / 'function'),
                       cfg_options=options)
    out = tmp_path / 'predictions.pkl'
    result = call_tool(['tools/test.py', CONFIG, checkpoint, '--work-dir', str(tmp_path / 'tool'),
                        '--out', str(out), '--show-dir', 'pictures', '--cfg-options',
                        *as_cli(options)])
    assert result.returncode == 0, result.stderr[-3000:]
    tool_metrics = [json.load(open(path)) for path in
                    glob.glob(str(tmp_path / 'tool' / '*' / '*.json'))]
    assert len(tool_metrics) == 1
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_75'):
        assert metrics[key] == pytest.approx(logged[key], abs=1e-9), key
        assert tool_metrics[0][key] == pytest.approx(logged[key], abs=1e-9), key

    with open(out, 'rb') as f:
        predictions = pickle.load(f)
    assert len(predictions) == dataset['num_train_images']
    assert {'pred_instances', 'img_id'} <= set(predictions[0])
    pictures = glob.glob(str(tmp_path / 'tool' / '*' / 'pictures' / '*.jpg'))
    assert len(pictures) == dataset['num_train_images']


def test_predictions_are_drawn_beside_the_ground_truth(learned, dataset, tmp_path):
    import mmcv
    from ghostdet.visualization import draw_predictions
    work_dir = learned
    image = sorted(glob.glob(osp.join(dataset['train_img_dir'], '*.jpg')))[0]
    width = mmcv.imread(image).shape[1]
    checkpoint = osp.join(work_dir, f'epoch_{EPOCHS}.pth')
    drawn = draw_predictions(CONFIG, checkpoint, [image], str(tmp_path / 'p.jpg'),
                             score_thr=0.3, ann_file=dataset['train_ann_file'],
                             cfg_options=learning_options(dataset))
    assert drawn['num_boxes_drawn'] > 0
    assert mmcv.imread(drawn['picture']).shape[1] == 2 * width + 4  # truth | predictions
    alone = draw_predictions(CONFIG, checkpoint, [image], str(tmp_path / 'q.jpg'),
                             score_thr=0.3, cfg_options=learning_options(dataset))
    assert mmcv.imread(alone['picture']).shape[1] == width


def test_resume_continues_from_the_checkpoint(learned, dataset, tmp_path):
    first_dir = learned
    end = HALF + 2  # two more epochs (of one iteration) show where it went on
    runner = train(CONFIG, work_dir=str(tmp_path), resume=osp.join(first_dir, f'epoch_{HALF}.pth'),
                   cfg_options=dict(learning_options(dataset), **{'train_cfg.max_epochs': end}))
    assert runner.epoch == end and runner.iter == end
    steps = [r['step'] for r in scalars(str(tmp_path)) if 'loss' in r]
    # Only what came after the checkpoint was trained.
    assert steps == list(range(HALF + 1, end + 1))


def test_pretrained_init_cfg_loads_a_backbone_from_a_detector(learned):
    from mmdet.registry import MODELS
    work_dir = learned
    checkpoint = osp.join(work_dir, f'epoch_{EPOCHS}.pth')
    cfg = Config.fromfile('configs/retinanet_ghostnet.py')
    cfg.merge_from_dict({'model.backbone.init_cfg.checkpoint': checkpoint,
                         'model.backbone.init_cfg.prefix': 'backbone.'})
    model = MODELS.build(cfg.model)
    model.init_weights()
    saved = load_checkpoint_file(checkpoint)['state_dict']
    for name, value in model.backbone.state_dict().items():
        torch.testing.assert_close(value, saved[f'backbone.{name}'], msg=name)


def test_faster_rcnn_small_trains(dataset, tmp_path):
    options = small_run_options(dataset, max_epochs=1)
    del options['model.test_cfg.score_thr']
    options['model.test_cfg.rcnn.score_thr'] = 0.0
    runner = train('configs/faster_rcnn_ghostnet_small.py', work_dir=str(tmp_path),
                   cfg_options=options)
    assert runner.iter == 1
    records = scalars(str(tmp_path))
    assert any('coco/bbox_mAP' in r for r in records)
    assert all(torch.isfinite(torch.tensor(r['loss'])) for r in records if 'loss' in r)


def test_demo_runs_end_to_end(tmp_path):
    """The demo, scaled down: it generates its data where it is told, trains,
    evaluates and draws boxes on held-out images (every box: two iterations
    learn too little to score any high)."""
    from ghostdet.demo import run_demo
    options = {'train_cfg.max_epochs': 2, 'optim_wrapper.optimizer.lr': 0.004,
               'param_scheduler.0.end': 2, 'param_scheduler.1.eta_min_ratio': 1.0,
               'model.test_cfg.score_thr': 0.0,
               'train_dataloader.dataset.pipeline.2.scale': (160, 160),
               'test_dataloader.dataset.pipeline.1.scale': (160, 160)}
    for loader in ('train_dataloader', 'test_dataloader'):
        options.update({f'{loader}.num_workers': 0, f'{loader}.persistent_workers': False})
    result = run_demo(CONFIG, work_dir=str(tmp_path / 'demo'), data_root=str(tmp_path / 'data'),
                      num_train=4, num_val=4, num_pictures=2, score_thr=0.0,
                      cfg_options=options)
    assert 'coco/bbox_mAP' in result  # evaluated by pycocotools, not defaulted
    assert result['bbox_mAP'] == result['coco/bbox_mAP']
    assert osp.isfile(result['checkpoint'])
    assert osp.isfile(tmp_path / 'data' / 'annotations' / 'instances_val.json')
    assert result['num_boxes_drawn'] > 0
    assert osp.getsize(result['picture']) > 1000
    # Objects given several labels, counted on the held-out split's predictions.
    with open(tmp_path / 'data' / 'annotations' / 'instances_val.json') as f:
        assert result['num_objects'] == len(json.load(f)['annotations'])
    assert 0 <= result['num_multi_label'] <= result['num_found'] <= result['num_objects']
    assert result['multi_label_share'] == result['num_multi_label'] / result['num_objects']
    assert osp.isfile(tmp_path / 'demo' / 'predictions.pkl')
