"""ImageNet-style pretraining of GhostNet with MMPretrain, carried into a detector."""
import glob
import json
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from ghostdet.checkpoint import load_checkpoint_file
from ghostdet.synthetic import make_image_folder_dataset
from ghostdet.models import GhostNet
from ghostdet.runner import train

CONFIG = 'configs/pretrain/ghostnet-1.1x_8xb128_in1k.py'


@pytest.fixture(scope='module')
def image_folder(tmp_path_factory):
    return make_image_folder_dataset(tmp_path_factory.mktemp('folder'), num_classes=3,
                                     images_per_class=4, size=64)


def pretrain_options(data):
    """Overrides for a one-epoch run (3 iterations of 4 images) at 64 px."""
    classes = data['classes']
    options = {
        'model.head.num_classes': len(classes),
        'data_preprocessor.num_classes': len(classes),
        'train_cfg.max_epochs': 1,
        'default_hooks.logger.interval': 1,
        'train_dataloader.dataset.pipeline.1.scale': 64,  # RandomResizedCrop
        'val_dataloader.dataset.pipeline.1.scale': 72,  # ResizeEdge
        'val_dataloader.dataset.pipeline.2.crop_size': 64,  # CenterCrop
        'val_evaluator.topk': (1, ),  # top-5 of 3 classes is undefined
    }
    for loader in ('train_dataloader', 'val_dataloader'):
        options[f'{loader}.batch_size'] = 4
        options[f'{loader}.num_workers'] = 0
        options[f'{loader}.dataset.data_root'] = data['out_dir']
        # ImageNet's 1000 class names would not match the 3 folders.
        options[f'{loader}.dataset.metainfo'] = dict(classes=classes)
    return options


@pytest.fixture(scope='module')
def pretrained(image_folder, tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('pretrain'))
    # The runner leaves 'mmpretrain' as the default scope; the context puts
    # the previous one back for the tests that follow.
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        runner = train(CONFIG, work_dir=work_dir, cfg_options=pretrain_options(image_folder))
    return runner, work_dir


def test_image_folder_dataset_is_deterministic_and_readable(image_folder, tmp_path):
    from mmpretrain.datasets import ImageNet
    again = make_image_folder_dataset(tmp_path, num_classes=3, images_per_class=4, size=64)
    assert again['classes'] == image_folder['classes'] == (
        'stripes_000', 'stripes_045', 'stripes_090')
    for split in ('train', 'val'):
        files = sorted(glob.glob(osp.join(image_folder[f'{split}_dir'], '*', '*.jpg')))
        assert len(files) == 12 == image_folder[f'num_{split}_images']
        for path in files:
            twin = osp.join(again[f'{split}_dir'], osp.relpath(path, image_folder[f'{split}_dir']))
            with open(path, 'rb') as f, open(twin, 'rb') as g:
                assert f.read() == g.read()
    dataset = ImageNet(data_root=image_folder['out_dir'], split='val',
                       metainfo=dict(classes=image_folder['classes']))
    assert len(dataset) == 12
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        label_folder = osp.basename(osp.dirname(info['img_path']))
        assert image_folder['classes'][info['gt_label']] == label_folder
    os.makedirs(tmp_path / 'train' / 'stray')
    with pytest.raises(FileExistsError, match='stray'):
        make_image_folder_dataset(tmp_path, num_classes=3)
    with pytest.raises(ValueError, match='num_classes'):
        make_image_folder_dataset(tmp_path / 'new', num_classes=0)


@pytest.mark.parametrize('width', [0.5, 1.0, 1.3])
def test_head_follows_widen_factor(width):
    from mmpretrain.registry import MODELS
    with open(CONFIG) as f:
        text = f.read()
    assert 'widen_factor = 1.1\n' in text
    cfg = Config.fromstring(text.replace('widen_factor = 1.1\n', f'widen_factor = {width}\n'),
                            file_format='.py')
    assert cfg.model.backbone.widen_factor == width
    assert cfg.model.head.in_channels == GhostNet.stage_channels(width)[-1]
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 64, 64)).shape == (1, 1000)


def test_pretraining_writes_a_full_backbone_checkpoint(pretrained):
    runner, work_dir = pretrained
    assert runner.epoch == 1 and runner.iter == 3
    newest = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))[-1]
    with open(newest) as f:
        records = [json.loads(line) for line in f]
    losses = [r['loss'] for r in records if 'loss' in r]
    assert len(losses) == 3 and all(torch.isfinite(torch.tensor(losses)))
    assert [0 <= r['accuracy/top1'] <= 100 for r in records if 'accuracy/top1' in r] == [True]

    state = load_checkpoint_file(osp.join(work_dir, 'epoch_1.pth'))['state_dict']
    reference = GhostNet(1.1, out_indices=(4, )).state_dict()
    saved = {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}
    assert saved.keys() == reference.keys()
    for name, value in reference.items():
        assert saved[name].shape == value.shape, name
    # conv_head as a Linear 1056 -> 1280, then the classifier.
    assert state['head.layers.0.fc.weight'].shape == (1280, 1056)
    assert state['head.layers.1.fc.weight'].shape == (3, 1280)


def test_pretrained_backbone_initializes_the_detector(pretrained):
    from mmdet.registry import MODELS
    _, work_dir = pretrained
    checkpoint = osp.join(work_dir, 'epoch_1.pth')
    cfg = Config.fromfile('configs/retinanet_ghostnet.py')
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=checkpoint)
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    saved = load_checkpoint_file(checkpoint)['state_dict']
    backbone = model.backbone.state_dict()
    # The detector stops at blocks.8; everything it has comes from the checkpoint.
    assert len(backbone) == len([k for k in saved if k.startswith('backbone.')
                                 and not k.startswith('backbone.blocks.9.')])
    for name, value in backbone.items():
        torch.testing.assert_close(value, saved[f'backbone.{name}'], msg=name)
