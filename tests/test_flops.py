"""FLOPs as the GhostNet paper counts them (ghostdet.analysis, tools/get_flops.py)."""
import os.path as osp
import re

import pytest
import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer
from mmengine.config import Config
from torch.nn.modules.batchnorm import _BatchNorm
from torchvision.models import mobilenet_v2, mobilenet_v3_large

from conftest import CONFIGS, call_tool, run_tool
from ghostdet.analysis import (config_complexity, count_macs, count_params,
                               detector_complexity, trunk_complexity)
from ghostdet.models import GhostNet

# The paper's FLOPs column (GhostNet paper, Table 9, arXiv 1911.11907): the spec.
PAPER_MACS = {
    'retinanet_ghostnet.py': 164e6,
    'retinanet_mobilenetv3.py': 219e6,
    'retinanet_mobilenetv2.py': 300e6,
}
DETECTOR_SHAPE = (128, 160)


pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(scope='module')
def counts():
    """config_complexity of the three RetinaNet configs, computed once."""
    return {config: config_complexity(osp.join(CONFIGS, config), detector_shape=DETECTOR_SHAPE)
            for config in PAPER_MACS}


def _bn_params(model):
    return sum(p.numel() for m in model.modules() if isinstance(m, _BatchNorm)
               for p in m.parameters())


@pytest.mark.parametrize('config', sorted(PAPER_MACS))
def test_trunk_macs_match_the_paper(counts, config):
    assert counts[config]['trunk']['macs'] == pytest.approx(PAPER_MACS[config], rel=0.02)


def test_ghostnet_trunk_params(counts):
    trunk = GhostNet(1.1, out_indices=(4, ))
    params = counts['retinanet_ghostnet.py']['trunk']['params']
    assert params == sum(p.numel() for p in trunk.parameters()) - _bn_params(trunk)
    # With BN and the ImageNet head it is the 1.1x classifier (timm's ghostnet_100 at
    # width 1.1): 5.86M.
    head = (1056 * 1280 + 1280) + (1280 * 1000 + 1000)
    assert params + _bn_params(trunk) + head == pytest.approx(5.86e6, rel=0.01)


def test_mobilenet_v3_trunk_is_the_torchvision_classifier(counts):
    model = mobilenet_v3_large(weights=None)
    trunk = counts['retinanet_mobilenetv3.py']['trunk']
    assert trunk['params'] == sum(p.numel() for p in model.parameters()) - _bn_params(model)
    assert 'classifier' in trunk['layers']


def test_mobilenet_v2_trunk_is_torchvision_features(counts):
    # mmdet's MobileNetV2 through conv2 is torchvision's features.0-18.
    features = mobilenet_v2(weights=None).features.eval()
    trunk = counts['retinanet_mobilenetv2.py']['trunk']
    assert trunk['params'] == sum(p.numel() for p in features.parameters()) - \
        _bn_params(features)
    assert trunk['macs'] == count_macs(features, (torch.rand(1, 3, 224, 224), ))


@pytest.mark.parametrize('config', sorted(PAPER_MACS))
def test_configured_backbone_stops_at_its_last_output(counts, config):
    backbone, trunk = counts[config]['backbone'], counts[config]['trunk']
    # out_indices (0, 1, 2, 3) leave the final 1x1 conv out.
    assert 0.8 * trunk['macs'] < backbone['macs'] < trunk['macs']
    assert 0 < backbone['params'] < trunk['params']


class _RoIHead(nn.Module):
    """A two-stage detector's RoI head on fixed proposals, traceable."""

    def __init__(self, roi_head, proposals, samples):
        super().__init__()
        self.roi_head, self.proposals, self.samples = roi_head, proposals, samples

    def forward(self, feats):
        return self.roi_head.forward(feats, self.proposals, self.samples)


def _sample(height, width):
    from mmdet.structures import DetDataSample
    return DetDataSample(metainfo=dict(
        img_shape=(height, width), ori_shape=(height, width), pad_shape=(height, width),
        batch_input_shape=(height, width), scale_factor=(1.0, 1.0)))


@pytest.mark.parametrize('config', sorted(PAPER_MACS) + ['faster_rcnn_ghostnet.py'])
def test_detector_macs_are_backbone_neck_and_heads_counted_apart(counts, config):
    from mmdet.registry import MODELS
    cfg = Config.fromfile(osp.join(CONFIGS, config))
    detector = counts[config]['detector'] if config in counts else detector_complexity(
        cfg, input_shape=DETECTOR_SHAPE)
    torch.manual_seed(0)  # as detector_complexity builds it: the proposals depend on it
    model = MODELS.build(cfg.model).eval()
    x = torch.rand(1, 3, *DETECTOR_SHAPE)
    with torch.no_grad():
        feats = model.backbone(x)
        neck_out = model.neck(feats)
        parts = [count_macs(model.backbone, (x, )), count_macs(model.neck, (feats, ))]
        if 'retinanet' in config:
            parts.append(count_macs(model.bbox_head, (neck_out, )))
        else:
            samples = [_sample(*DETECTOR_SHAPE)]
            proposals = model.rpn_head.predict(neck_out, samples, rescale=False)
            assert len(proposals[0]) > 100
            parts += [count_macs(model.rpn_head, (neck_out, )),
                      count_macs(_RoIHead(model.roi_head, proposals, samples), (neck_out, ))]
    assert all(part > 0 for part in parts)
    assert detector['macs'] == sum(parts)


def test_detector_macs_grow_with_the_input():
    config = osp.join(CONFIGS, 'retinanet_ghostnet.py')
    small = detector_complexity(config, input_shape=(64, 64))
    large = detector_complexity(config, input_shape=(128, 128))
    assert large['params'] == small['params']
    assert large['macs'] == pytest.approx(4 * small['macs'], rel=0.1)


def test_two_stage_detector_counts_its_roi_head():
    config = osp.join(CONFIGS, 'faster_rcnn_ghostnet.py')
    detector = detector_complexity(config, input_shape=DETECTOR_SHAPE)
    # The box head's two shared fcs (256*7*7 -> 1024 -> 1024) run on each of
    # the hundreds of proposals (up to test_cfg.rpn.max_per_img = 1000) and
    # outweigh all the convs at this size.
    fc_macs = 256 * 7 * 7 * 1024 + 1024 * 1024
    assert detector['macs'] > 500 * fc_macs
    assert detector['params'] > fc_macs


def test_batch_norm_is_not_counted():
    bn = nn.BatchNorm2d(8).eval()
    x = torch.rand(1, 8, 16, 16)
    assert FlopAnalyzer(bn, (x, )).total() > 0  # mmengine's default counts it
    assert count_macs(bn, (x, )) == 0


class _Mixed(nn.Module):
    """A conv and a linear layer among ops that are not multiply-adds."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.gn = nn.GroupNorm(2, 8)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = self.gn(self.bn(self.conv(x)))
        x = x + nn.functional.hardsigmoid(x) * x
        x = nn.functional.interpolate(x, scale_factor=2.0, mode='nearest')
        x = nn.functional.interpolate(x, scale_factor=0.5, mode='bilinear')
        x = nn.functional.adaptive_avg_pool2d(x, 1).flatten(1) + x.mean((2, 3))
        return self.fc(x) @ torch.ones(10, 4)


def test_only_convs_and_linear_layers_are_counted():
    model = _Mixed().eval()
    x = torch.rand(1, 3, 16, 16)
    expected = 16 * 16 * 8 * 3 * 9 + 8 * 10 + 10 * 4
    assert count_macs(model, (x, )) == expected
    assert FlopAnalyzer(model, (x, )).total() > expected
    assert count_params(model) == (8 * 3 * 9 + 8) + (8 * 10 + 10)
    assert count_params(model, skip=('fc', )) == 8 * 3 * 9 + 8


def test_unknown_backbone_type():
    with pytest.raises(ValueError, match='ResNet'):
        trunk_complexity(dict(type='ResNet', depth=18))


def test_get_flops_prints_a_table():
    configs = [f'configs/{config}' for config in sorted(PAPER_MACS)]
    result = run_tool(['tools/get_flops.py', *configs, '--shape', '96', '128'],
                      env=dict(OMP_NUM_THREADS='1'))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert 'trunk MACs@224x224' in lines[0] and 'detector MACs@96x128' in lines[0]
    rows = {line.split()[0]: line for line in lines[2:5]}
    assert set(rows) == {osp.splitext(c)[0] for c in PAPER_MACS}
    assert re.search(r'GhostNet 1\.1x\s+164\.\dM\s', rows['retinanet_ghostnet'])
    assert re.search(r'MobileNetV2 1\.0x\s+299\.\dM\s', rows['retinanet_mobilenetv2'])
    assert re.search(r'TVMobileNetV3 1\.0x\s+21\d\.\dM\s', rows['retinanet_mobilenetv3'])
    assert all(len(row.split()) == 9 for row in rows.values())  # name, type (2), 6 counts


def test_get_flops_names_a_missing_config():
    result = call_tool(['tools/get_flops.py', 'configs/no_such.py'])
    assert result.returncode == 1
    assert 'configs/no_such.py' in result.stderr and 'Traceback' not in result.stderr
