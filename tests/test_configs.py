"""The configs: the paper's six COCO configs (GhostNet 1.1x and its MobileNetV2/V3
peers, RetinaNet and Faster R-CNN) and the small-data ones."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from conftest import CONFIGS, REPO, call_tool
from ghostdet.models import GhostNet
from ghostdet.synthetic import CLASSES

COCO_CONFIGS = ['retinanet_ghostnet.py', 'faster_rcnn_ghostnet.py']
SMALL_CONFIGS = ['retinanet_ghostnet_small.py', 'faster_rcnn_ghostnet_small.py']
PEERS = {  # peer config -> the GhostNet config it must only change the backbone of
    'retinanet_mobilenetv2.py': 'retinanet_ghostnet.py',
    'retinanet_mobilenetv3.py': 'retinanet_ghostnet.py',
    'faster_rcnn_mobilenetv2.py': 'faster_rcnn_ghostnet.py',
    'faster_rcnn_mobilenetv3.py': 'faster_rcnn_ghostnet.py',
}
PAPER_CONFIGS = COCO_CONFIGS + list(PEERS)
GHOSTNET_1_0X_CONFIGS = ['retinanet_ghostnet_1.0x.py', 'faster_rcnn_ghostnet_1.0x.py']
BACKBONES = {
    'retinanet_ghostnet.py': ('GhostNet', [28, 44, 124, 176]),
    'faster_rcnn_ghostnet.py': ('GhostNet', [28, 44, 124, 176]),
    'retinanet_mobilenetv2.py': ('MobileNetV2', [24, 32, 96, 320]),
    'faster_rcnn_mobilenetv2.py': ('MobileNetV2', [24, 32, 96, 320]),
    'retinanet_mobilenetv3.py': ('TVMobileNetV3', [24, 40, 112, 160]),
    'faster_rcnn_mobilenetv3.py': ('TVMobileNetV3', [24, 40, 112, 160]),
    'retinanet_ghostnet_1.0x.py': ('GhostNet', [24, 40, 112, 160]),
    'faster_rcnn_ghostnet_1.0x.py': ('GhostNet', [24, 40, 112, 160]),
}

pytestmark = pytest.mark.usefixtures('one_thread')


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
    assert cfg.custom_imports == dict(imports=['ghostdet', 'ghostdet.weights_only'],
                                      allow_failed_imports=False)
    assert cfg.train_cfg.max_epochs == 12
    # MMDetection's own data pipelines, in ghostdet's checked dataset type.
    import mmdet
    mmdet_cfg = Config.fromfile(osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', (
        'retinanet/retinanet_r50_fpn_1x_coco.py' if 'retinanet' in config
        else 'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py')))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset, mmdet_dataset = cfg[loader].dataset, mmdet_cfg[loader].dataset
        assert dataset.type == 'CheckedCocoDataset' and mmdet_dataset.type == 'CocoDataset'
        assert dataset.pipeline == mmdet_dataset.pipeline
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
    result = call_tool([f'tools/{tool}', f'configs/{config}', *checkpoint,
                        '--work-dir', str(tmp_path / 'work'), '--cfg-options', *options])
    assert result.returncode == 1
    assert 'Traceback' not in result.stderr
    assert str(missing_root) in result.stderr
    assert 'data/README.md' in result.stderr
    assert 'does not exist' in result.stderr


def test_default_coco_paths_are_named_when_missing(tmp_path):
    """The config as shipped, run from a directory without data/coco."""
    result = call_tool([osp.join(REPO, 'tools', 'train.py'),
                        osp.join(CONFIGS, 'retinanet_ghostnet.py'),
                        '--work-dir', str(tmp_path / 'work')], cwd=str(tmp_path))
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert 'data_root "data/coco/" does not exist' in result.stderr


def _load(config):
    return Config.fromfile(osp.join(CONFIGS, config))


@pytest.mark.parametrize('config', PAPER_CONFIGS + GHOSTNET_1_0X_CONFIGS)
def test_coco_config_builds_and_runs(config):
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample
    from mmdet.utils import register_all_modules
    register_all_modules()
    cfg = _load(config)
    backbone_type, in_channels = BACKBONES[config]
    assert cfg.model.backbone.type == backbone_type
    assert list(cfg.model.neck.in_channels) == in_channels
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.eval()
    x = torch.rand(1, 3, 256, 256)
    sample = DetDataSample(metainfo=dict(img_shape=(256, 256), ori_shape=(256, 256),
                                         scale_factor=(1.0, 1.0)))
    with torch.no_grad():
        feats = model.backbone(x)
        outs = model._forward(x, [sample])
    assert [f.shape[1] for f in feats] == in_channels
    assert [256 // f.shape[-1] for f in feats] == [4, 8, 16, 32]
    if 'retinanet' in config:
        cls_scores, bbox_preds = outs
        assert [s.shape[-1] for s in cls_scores] == [32, 16, 8, 4, 2]  # P3-P7
        assert cls_scores[0].shape[1] == 9 * 80 and bbox_preds[0].shape[1] == 9 * 4
    else:
        cls_score, bbox_pred = outs[0]
        assert cls_score.shape[0] > 0 and cls_score.shape[1] == 81
        assert bbox_pred.shape == (cls_score.shape[0], 80 * 4)


@pytest.mark.parametrize('config', PAPER_CONFIGS)
def test_coco_configs_freeze_up_to_the_stride_4_output(config):
    """As GhostNet's frozen_stages=1 does: whatever computes the first FPN input
    is frozen, and the next stage trains."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    backbone = MODELS.build(_load(config).model.backbone)
    backbone.train()
    outs = backbone(torch.rand(2, 3, 64, 64))
    assert not outs[0].requires_grad
    assert all(out.requires_grad for out in outs[1:])


def _without(cfg, *keys):
    """The config as a dict, with the dotted ``keys`` removed."""
    cfg = copy.deepcopy(cfg.to_dict())
    for key in keys:
        *parents, last = key.split('.')
        node = cfg
        for parent in parents:
            node = node[parent]
        del node[last]
    return cfg


@pytest.mark.parametrize('peer', sorted(PEERS))
def test_peer_configs_only_replace_the_backbone(peer):
    ghostnet, other = _load(PEERS[peer]), _load(peer)
    # work_dir differs so that the peer's runs do not land in GhostNet's dir.
    keys = ('model.backbone', 'model.neck.in_channels', 'work_dir')
    assert _without(other, *keys) == _without(ghostnet, *keys)
    assert other.work_dir == f'./work_dirs/{osp.splitext(peer)[0]}'
    assert other.model.backbone.type != ghostnet.model.backbone.type
    assert other.model.backbone.norm_eval is True
    assert other.model.backbone.init_cfg.type == 'Pretrained'


@pytest.mark.parametrize('config,weights', [
    ('retinanet_ghostnet.py', 'pretrain'),
    ('faster_rcnn_ghostnet.py', 'pretrain'),
    ('retinanet_ghostnet_1.0x.py', 'ghostnet_1.0x_official'),
    ('faster_rcnn_ghostnet_1.0x.py', 'ghostnet_1.0x_official'),
    ('retinanet_mobilenetv3.py', 'mobilenet_v3_large.IMAGENET1K_V1'),
    ('faster_rcnn_mobilenetv3.py', 'mobilenet_v3_large.IMAGENET1K_V1'),
    ('retinanet_mobilenetv2.py', 'mmdet/mobilenet_v2'),
    ('faster_rcnn_mobilenetv2.py', 'mmdet/mobilenet_v2'),
])
def test_coco_configs_ship_their_imagenet_weights(config, weights):
    from ghostdet.checkpoint import GHOSTNET_1_1X_PRETRAIN, PUBLIC_CHECKPOINTS
    backbone = _load(config).model.backbone
    assert backbone.init_cfg.type == 'Pretrained'
    if weights == 'pretrain':
        # Where configs/pretrain/ leaves its last checkpoint.
        pretrain = Config.fromfile(osp.join(CONFIGS, 'pretrain', 'ghostnet-1.1x_8xb128_in1k.py'))
        last = osp.join(pretrain.work_dir, f'epoch_{pretrain.train_cfg.max_epochs}.pth')
        assert osp.normpath(backbone.init_cfg.checkpoint) == osp.normpath(last) == \
            osp.normpath(GHOSTNET_1_1X_PRETRAIN)
        assert pretrain.model.backbone.widen_factor == backbone.widen_factor == 1.1
        return
    entry = PUBLIC_CHECKPOINTS[weights]
    assert backbone.init_cfg.checkpoint == entry.url
    assert backbone.type == entry.backbone
    assert backbone.widen_factor == entry.widen_factor
