"""The paper's peers of GhostNet: the MobileNetV3 backbone and the MobileNetV2/V3
COCO configs."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from torch.nn.modules.batchnorm import _BatchNorm
from torchvision.models import mobilenet_v3_large

from conftest import CONFIGS
from ghostdet.models import MobileNetV3

# torchvision's MobileNetV3-Large 1.0x: channels of features.3/6/12/15/16.
CHANNELS_1_0 = (24, 40, 112, 160, 960)
STRIDES = (4, 8, 16, 32, 32)
STAGE_ENDS = (3, 6, 12, 15, 16)

PEERS = {  # peer config -> the GhostNet config it must only change the backbone of
    'retinanet_mobilenetv2.py': 'retinanet_ghostnet.py',
    'retinanet_mobilenetv3.py': 'retinanet_ghostnet.py',
    'faster_rcnn_mobilenetv2.py': 'faster_rcnn_ghostnet.py',
    'faster_rcnn_mobilenetv3.py': 'faster_rcnn_ghostnet.py',
}
COCO_CONFIGS = ['retinanet_ghostnet.py', 'faster_rcnn_ghostnet.py', *PEERS]
BACKBONES = {
    'retinanet_ghostnet.py': ('GhostNet', [28, 44, 124, 176]),
    'faster_rcnn_ghostnet.py': ('GhostNet', [28, 44, 124, 176]),
    'retinanet_mobilenetv2.py': ('MobileNetV2', [24, 32, 96, 320]),
    'faster_rcnn_mobilenetv2.py': ('MobileNetV2', [24, 32, 96, 320]),
    'retinanet_mobilenetv3.py': ('MobileNetV3', [24, 40, 112, 160]),
    'faster_rcnn_mobilenetv3.py': ('MobileNetV3', [24, 40, 112, 160]),
}


pytestmark = pytest.mark.usefixtures('one_thread')


def test_output_channels_and_strides():
    model = MobileNetV3(out_indices=(0, 1, 2, 3, 4)).eval()
    assert model.out_channels == CHANNELS_1_0
    assert MobileNetV3.stage_channels(1.0) == CHANNELS_1_0
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 128, 96))
    assert isinstance(outs, tuple) and len(outs) == 5
    for out, channels, stride in zip(outs, CHANNELS_1_0, STRIDES):
        assert tuple(out.shape) == (1, channels, 128 // stride, 96 // stride)


def test_default_outputs_are_the_four_stage_ends():
    model = MobileNetV3()
    assert model.out_indices == (0, 1, 2, 3)
    assert model.out_channels == CHANNELS_1_0[:4]
    assert len(model.features) == 16  # features.16 is not built when not requested


@pytest.mark.parametrize('widen_factor', [0.75, 1.25])
def test_stage_channels_follow_torchvision_widths(widen_factor):
    features = mobilenet_v3_large(weights=None, width_mult=widen_factor).features
    expected = tuple(features[i].out_channels for i in STAGE_ENDS)
    assert MobileNetV3.stage_channels(widen_factor) == expected
    model = MobileNetV3(widen_factor, out_indices=(4, 0))
    assert model.out_channels == (expected[4], expected[0])


def test_state_dict_is_torchvision_features():
    torch.manual_seed(0)
    torchvision_model = mobilenet_v3_large(weights=None).eval()
    ours = MobileNetV3(out_indices=(4, )).eval()
    expected = {k: v for k, v in torchvision_model.state_dict().items()
                if k.startswith('features.')}
    ours_state = ours.state_dict()
    assert list(ours_state) == list(expected)
    assert all(ours_state[k].shape == v.shape for k, v in expected.items())
    # torchvision's weights load by key and give torchvision's features.
    ours.load_state_dict(expected, strict=True)
    x = torch.rand(1, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(ours(x)[0], torchvision_model.features(x))
    bns = [m for m in ours.modules() if isinstance(m, _BatchNorm)]
    assert bns and all(m.eps == 0.001 and m.momentum == 0.01 for m in bns)


def test_pretrained_init_cfg_loads_a_torchvision_checkpoint(tmp_path):
    torch.manual_seed(1)
    state = mobilenet_v3_large(weights=None).state_dict()
    torch.save(state, tmp_path / 'mobilenet_v3_large.pth')
    model = MobileNetV3(init_cfg=dict(type='Pretrained',
                                      checkpoint=str(tmp_path / 'mobilenet_v3_large.pth')))
    model.init_weights()
    loaded = model.state_dict()
    assert loaded and all(torch.equal(v, state[k]) for k, v in loaded.items())


def test_layers_after_last_output_are_not_built_or_run():
    full = MobileNetV3(out_indices=(0, 1, 2, 3, 4))
    short = MobileNetV3(out_indices=(1, ))
    assert len(short.features) == 7
    assert sum(p.numel() for p in short.parameters()) < \
        sum(p.numel() for p in full.parameters()) / 10
    outs = short(torch.rand(2, 3, 64, 64))
    assert len(outs) == 1 and outs[0].shape == (2, 40, 8, 8)


def test_out_indices_order_is_kept():
    outs = MobileNetV3(out_indices=(3, 0)).eval()(torch.rand(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [160, 24]


@pytest.mark.parametrize('stages', [0, 1, 2, 3, 4, 5])
def test_frozen_stages(stages):
    model = MobileNetV3(out_indices=(0, 1, 2, 3, 4), frozen_stages=stages)
    assert model.train() is model
    last = 0 if stages == 0 else STAGE_ENDS[stages - 1]
    for index, layer in enumerate(model.features):
        frozen = index <= last
        assert all(p.requires_grad != frozen for p in layer.parameters()), index
        assert all(m.training != frozen for m in layer.modules()
                   if isinstance(m, _BatchNorm)), index
    if stages == 5:  # everything built is frozen
        assert not any(p.requires_grad for p in model.parameters())
        return
    # Frozen weights do not move under an optimizer step.
    frozen_params = {n: p.detach().clone() for n, p in model.named_parameters()
                     if not p.requires_grad}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    sum(o.mean() for o in model(torch.rand(2, 3, 64, 64))).backward()
    optimizer.step()
    params = dict(model.named_parameters())
    assert frozen_params
    for name, before in frozen_params.items():
        assert torch.equal(params[name], before), name


def test_no_frozen_stages():
    model = MobileNetV3().train()
    assert all(p.requires_grad for p in model.parameters())
    assert all(m.training for m in model.modules())


def test_norm_eval_keeps_running_stats():
    model = MobileNetV3(norm_eval=True)
    assert model.train() is model
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert bns and not any(m.training for m in bns)
    stem_bn = model.features[0][1]
    before = stem_bn.running_mean.clone()
    model(torch.rand(2, 3, 64, 64) * 5)
    assert torch.equal(stem_bn.running_mean, before)
    assert all(p.requires_grad for p in model.parameters())

    model = MobileNetV3(norm_eval=False).train()
    model(torch.rand(2, 3, 64, 64) * 5)
    assert not torch.equal(model.features[0][1].running_mean, before)


def test_with_cp_gives_the_same_gradients():
    torch.manual_seed(0)
    plain = MobileNetV3(out_indices=(1, 2))
    checkpointed = MobileNetV3(out_indices=(1, 2), with_cp=True)
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.rand(2, 3, 64, 64)
    for model in (plain, checkpointed):
        model.train()
        sum(o.sum() for o in model(x.clone().requires_grad_())).backward()
    for (name, a), b in zip(plain.named_parameters(), checkpointed.parameters()):
        torch.testing.assert_close(a.grad, b.grad, msg=name)


def test_registered_in_mmdet():
    from mmdet.registry import MODELS
    model = MODELS.build(dict(type='MobileNetV3', out_indices=(2, )))
    assert isinstance(model, MobileNetV3)
    assert model.out_channels == (112, )


def _load(config):
    return Config.fromfile(osp.join(CONFIGS, config))


@pytest.mark.parametrize('config', COCO_CONFIGS)
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


@pytest.mark.parametrize('config', COCO_CONFIGS)
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
    assert other.model.backbone.init_cfg is None
