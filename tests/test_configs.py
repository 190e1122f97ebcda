import os.path as osp

import pytest
from mmengine.config import Config

from conftest import CONFIGS, REPO, run_tool
from ghostdet.datasets import CLASSES
from ghostdet.models import GhostNet

COCO_CONFIGS = ['retinanet_ghostnet.py', 'faster_rcnn_ghostnet.py']
SMALL_CONFIGS = ['retinanet_ghostnet_small.py', 'faster_rcnn_ghostnet_small.py']


def build(config):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(osp.join(CONFIGS, config))
    return cfg, MODELS.build(cfg.model)


@pytest.mark.parametrize('config', COCO_CONFIGS + SMALL_CONFIGS)
def test_config_builds_with_ghostnet_1_1x(config):
    cfg, model = build(config)
    assert isinstance(model.backbone, GhostNet)
    assert model.backbone.widen_factor == 1.1
    assert list(cfg.model.neck.in_channels) == list(model.backbone.out_channels)
    assert model.neck.in_channels == [28, 44, 124, 176]


@pytest.mark.parametrize('config', COCO_CONFIGS)
def test_coco_configs_keep_mmdet_recipe(config):
    cfg = Config.fromfile(osp.join(CONFIGS, config))
    assert cfg.custom_imports == dict(imports=['ghostdet'], allow_failed_imports=False)
    assert cfg.train_cfg.max_epochs == 12
    assert cfg.train_dataloader.dataset.data_root == 'data/coco/'
    assert cfg.train_dataloader.dataset.ann_file == 'annotations/instances_train2017.json'
    assert cfg.optim_wrapper.optimizer.type == 'SGD'
    assert cfg.optim_wrapper.optimizer.lr == (0.01 if 'retinanet' in config else 0.02)
    steps = [s for s in cfg.param_scheduler if s.type == 'MultiStepLR']
    assert steps and steps[0].milestones == [8, 11]
    assert cfg.model.data_preprocessor.type == 'DetDataPreprocessor'
    assert cfg.model.neck.type == 'FPN'


@pytest.mark.parametrize('config', SMALL_CONFIGS)
def test_small_configs_name_the_generated_classes(config):
    cfg = Config.fromfile(osp.join(CONFIGS, config))
    assert tuple(cfg.train_dataloader.dataset.metainfo.classes) == CLASSES
    assert tuple(cfg.val_dataloader.dataset.metainfo.classes) == CLASSES
    head = cfg.model.get('bbox_head') or cfg.model.roi_head.bbox_head
    assert head.num_classes == len(CLASSES)


@pytest.mark.parametrize('tool', ['train.py', 'test.py'])
@pytest.mark.parametrize('config', COCO_CONFIGS)
def test_missing_coco_gives_a_clear_message(tmp_path, tool, config):
    missing_root = tmp_path / 'no_coco'
    options = [f'{loader}.dataset.data_root={missing_root}/'
               for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    checkpoint = []
    if tool == 'test.py':
        checkpoint = [str(tmp_path / 'some.pth')]
        (tmp_path / 'some.pth').write_bytes(b'')
    result = run_tool([f'tools/{tool}', f'configs/{config}', *checkpoint,
                       '--work-dir', str(tmp_path / 'work'), '--cfg-options', *options])
    assert result.returncode == 1
    assert 'Traceback' not in result.stderr
    assert str(missing_root) in result.stderr
    assert 'data/README.md' in result.stderr
    assert 'does not exist' in result.stderr


def test_default_coco_paths_are_named_when_missing(tmp_path):
    """The config as shipped, run from a directory without data/coco."""
    result = run_tool([osp.join(REPO, 'tools', 'train.py'),
                       osp.join(CONFIGS, 'retinanet_ghostnet.py'),
                       '--work-dir', str(tmp_path / 'work')], cwd=str(tmp_path))
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert 'data_root "data/coco/" does not exist' in result.stderr
