"""ghostdet's backbones: GhostNet and the torchvision MobileNetV3-Large wrapper.

What both share (outputs, freezing, norm_eval, with_cp, argument checks) is
tested once, over both; what is particular to each follows."""
import pytest
import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm
from torchvision.models import mobilenet_v3_large

import ghostdet.models.base_backbone as base_backbone
from ghostdet.models import GhostNet, TVMobileNetV3, make_divisible

STRIDES = (4, 8, 16, 32, 32)
# Output channels at strides 4/8/16/32 and of the final 1x1 conv, worked out
# by hand from the official width rule (make_divisible(c * width, 4), in
# huawei-noah/Efficient-AI-Backbones ghostnet_pytorch/ghostnet.py).
GHOSTNET_CHANNELS = {
    0.5: (12, 20, 56, 80, 480),
    1.0: (24, 40, 112, 160, 960),
    1.1: (28, 44, 124, 176, 1056),
    1.3: (32, 52, 144, 208, 1248),
}
TV_STAGE_END_LAYERS = (3, 6, 12, 15, 16)


def tv_channels(width):
    """Channels of torchvision's own features.3/6/12/15/16 at a width."""
    features = mobilenet_v3_large(weights=None, width_mult=width).features
    return tuple(features[i].out_channels for i in TV_STAGE_END_LAYERS)


# (backbone class, width, expected channels of the five outputs, blocks run
# up to output 3, the stage module names of the five outputs)
CASES = [
    (GhostNet, 0.5, GHOSTNET_CHANNELS[0.5], 16,
     ('blocks.2', 'blocks.4', 'blocks.6', 'blocks.8', 'blocks.9')),
    (GhostNet, 1.1, GHOSTNET_CHANNELS[1.1], 16,
     ('blocks.2', 'blocks.4', 'blocks.6', 'blocks.8', 'blocks.9')),
    (TVMobileNetV3, 1.0, (24, 40, 112, 160, 960), 15,
     tuple(f'features.{i}' for i in TV_STAGE_END_LAYERS)),
]
IDS = ['GhostNet-0.5', 'GhostNet-1.1', 'TVMobileNetV3-1.0']
BACKBONES = [GhostNet, TVMobileNetV3]

# Frozen layers need pretrained weights; building does not load them.
PRETRAINED = dict(type='Pretrained', checkpoint='loaded-only-by-init_weights.pth')

pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.mark.parametrize('backbone,width,channels,_,modules', CASES, ids=IDS)
def test_outputs_are_described_once_and_match_the_forward(backbone, width, channels, _,
                                                          modules):
    assert backbone.stage_channels(width) == channels
    assert [info.module for info in backbone.describe_outputs(width)] == list(modules)
    assert [info.stride for info in backbone.describe_outputs(width)] == list(STRIDES)
    model = backbone(width, out_indices=(0, 1, 2, 3, 4)).eval()
    assert model.out_channels == channels
    names = dict(model.named_modules())
    assert all(info.module in names for info in model.feature_info)
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 128, 96))
    assert isinstance(outs, tuple) and len(outs) == 5
    for out, info in zip(outs, model.feature_info):
        assert tuple(out.shape) == (1, info.channels, 128 // info.stride, 96 // info.stride)


@pytest.mark.parametrize('width', [0.75, 1.25])
def test_tv_mobilenet_v3_channels_follow_torchvision_widths(width):
    assert TVMobileNetV3.stage_channels(width) == tv_channels(width)
    assert TVMobileNetV3(width, out_indices=(4, 0)).out_channels == (tv_channels(width)[4],
                                                                     tv_channels(width)[0])


@pytest.mark.parametrize('width', sorted(GHOSTNET_CHANNELS))
def test_ghostnet_channels_at_the_named_widths(width):
    assert GhostNet.stage_channels(width) == GHOSTNET_CHANNELS[width]


@pytest.mark.parametrize('backbone', BACKBONES)
def test_default_outputs_are_the_four_stage_ends(backbone):
    model = backbone()
    assert model.out_indices == (0, 1, 2, 3)
    assert model.out_channels == backbone.stage_channels(1.0)[:4]
    modules = dict(model.named_modules())
    assert backbone.describe_outputs(1.0)[3].module in modules
    assert backbone.describe_outputs(1.0)[4].module not in modules  # not built


@pytest.mark.parametrize('backbone', BACKBONES)
def test_layers_after_last_output_are_not_built_or_run(backbone):
    full = backbone(out_indices=(0, 1, 2, 3, 4))
    short = backbone(out_indices=(1, ))
    assert backbone.describe_outputs(1.0)[2].module not in dict(short.named_modules())
    assert sum(p.numel() for p in short.parameters()) < \
        sum(p.numel() for p in full.parameters()) / 10
    outs = short(torch.rand(2, 3, 64, 64))
    assert len(outs) == 1 and outs[0].shape == (2, 40, 8, 8)


@pytest.mark.parametrize('backbone', BACKBONES)
def test_out_indices_order_is_kept(backbone):
    outs = backbone(out_indices=(3, 0)).eval()(torch.rand(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [160, 24]


def _modules_up_to(model, last_module):
    """Parameters of the stem and of every stage up to ``last_module``."""
    stem, modules = model._stem_modules(), []
    for name, blocks in model._stages():
        modules += list(blocks)
        if name == last_module:
            break
    return list(stem), modules


@pytest.mark.parametrize('stages', [0, 1, 2, 3, 4, 5])
@pytest.mark.parametrize('backbone', BACKBONES)
def test_frozen_stages(backbone, stages):
    model = backbone(out_indices=(0, 1, 2, 3, 4), frozen_stages=stages, init_cfg=PRETRAINED)
    assert model.train() is model
    stem, later = _modules_up_to(model, backbone.describe_outputs(1.0)[stages - 1].module)
    frozen = stem + (later if stages >= 1 else [])
    frozen_ids = {id(p) for m in frozen for p in m.parameters()}
    assert frozen_ids
    for param in model.parameters():
        assert param.requires_grad == (id(param) not in frozen_ids)
    for module in frozen:
        assert all(not m.training for m in module.modules() if isinstance(m, _BatchNorm))
    trainable_bn = [m for m in model.modules() if isinstance(m, _BatchNorm) and
                    all(id(p) not in frozen_ids for p in m.parameters())]
    assert all(m.training for m in trainable_bn)
    if stages == 5:  # everything built is frozen
        assert not trainable_bn and not any(p.requires_grad for p in model.parameters())
        return
    assert trainable_bn
    # Frozen weights do not move under an optimizer step.
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    sum(o.mean() for o in model(torch.rand(2, 3, 64, 64))).backward()
    optimizer.step()
    moved = [n for n, p in model.named_parameters() if not torch.equal(p, before[n])]
    assert moved
    for name, param in model.named_parameters():
        if id(param) in frozen_ids:
            assert torch.equal(param, before[name]), name


@pytest.mark.parametrize('backbone', BACKBONES)
def test_no_frozen_stages(backbone):
    model = backbone().train()
    assert all(p.requires_grad for p in model.parameters())
    assert all(m.training for m in model.modules())


@pytest.mark.parametrize('backbone', BACKBONES)
def test_norm_eval_keeps_running_stats(backbone):
    model = backbone(norm_eval=True, init_cfg=PRETRAINED)
    assert model.train() is model
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert bns and not any(m.training for m in bns)
    before = [m.running_mean.clone() for m in bns]
    model(torch.rand(2, 3, 64, 64) * 5)
    assert all(torch.equal(m.running_mean, b) for m, b in zip(bns, before))
    assert all(p.requires_grad for p in model.parameters())

    model = backbone(norm_eval=False).train()
    first_bn = next(m for m in model.modules() if isinstance(m, _BatchNorm))
    start = first_bn.running_mean.clone()
    model(torch.rand(2, 3, 64, 64) * 5)
    assert not torch.equal(first_bn.running_mean, start)


@pytest.mark.parametrize('backbone,width,channels,num_blocks,_', CASES, ids=IDS)
def test_with_cp_checkpoints_every_block_and_keeps_gradients(monkeypatch, backbone, width,
                                                            channels, num_blocks, _):
    calls = []
    real_checkpoint = base_backbone.cp.checkpoint

    def counting_checkpoint(function, *args, **kwargs):
        calls.append(function)
        return real_checkpoint(function, *args, **kwargs)

    monkeypatch.setattr(base_backbone.cp, 'checkpoint', counting_checkpoint)
    torch.manual_seed(0)
    plain = backbone(width)
    checkpointed = backbone(width, with_cp=True)
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.rand(2, 3, 64, 64)
    grads = []
    for model in (plain, checkpointed):
        model.train()
        sum(o.sum() for o in model(x)).backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
    assert len(calls) == num_blocks  # once per block, only for the checkpointed model
    assert len({id(block) for block in calls}) == num_blocks
    for name, grad in grads[0].items():
        torch.testing.assert_close(grad, grads[1][name], msg=name)
    calls.clear()
    with torch.no_grad():  # nothing to recompute: no checkpointing in inference
        checkpointed.eval()(x)
    assert calls == []


@pytest.mark.parametrize('kwargs,message', [
    (dict(widen_factor=0), 'widen_factor'),
    (dict(widen_factor=-1.1), 'widen_factor'),
    (dict(widen_factor='1.1'), 'widen_factor'),
    (dict(out_indices=(5, )), 'out_indices'),
    (dict(out_indices=(-1, )), 'out_indices'),
    (dict(out_indices=()), 'out_indices'),
    (dict(out_indices=3), 'out_indices'),
    (dict(out_indices=(1, 1)), 'duplicates'),
    (dict(frozen_stages=6), 'frozen_stages'),
    (dict(frozen_stages=-2), 'frozen_stages'),
])
@pytest.mark.parametrize('backbone', BACKBONES)
def test_invalid_arguments(backbone, kwargs, message):
    with pytest.raises(ValueError, match=message):
        backbone(**kwargs)


@pytest.mark.parametrize('kwargs', [dict(frozen_stages=0), dict(frozen_stages=1),
                                    dict(norm_eval=True)])
@pytest.mark.parametrize('backbone', BACKBONES)
def test_frozen_layers_on_random_weights_are_refused(backbone, kwargs):
    with pytest.raises(ValueError) as error:
        backbone(**kwargs)
    message = str(error.value)
    assert 'random weights' in message
    assert 'model.backbone.init_cfg.checkpoint=PATH' in message  # fix 1: load weights
    assert 'model.backbone.frozen_stages=-1 model.backbone.norm_eval=False' in message  # fix 2
    backbone(**kwargs, init_cfg=PRETRAINED)  # with weights to load, it is fine
    backbone(frozen_stages=-1, norm_eval=False)  # and so is training everything


@pytest.mark.parametrize('name,backbone', [('GhostNet', GhostNet),
                                           ('TVMobileNetV3', TVMobileNetV3)])
def test_registered_in_mmdet_under_its_own_name(name, backbone):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    model = MODELS.build(dict(type=name, out_indices=(2, )))
    assert type(model) is backbone
    # MMDetection's generic 'MobileNetV3' name is not taken by ghostdet.
    assert MODELS.get('MobileNetV3') is not TVMobileNetV3


# GhostNet in particular

def _num_params(modules):
    return sum(p.numel() for m in modules for p in m.parameters())


def _timm_classifier(width):
    """timm's whole ImageNet GhostNet at a width (random weights, no download):
    a model built by other code than ours."""
    from timm.models import ghostnet as timm_ghostnet
    return timm_ghostnet._create_ghostnet('ghostnet_100', width=width)


def classifier_param_count(widen_factor):
    """Parameters of the ImageNet classifier: our trunk (stem to blocks.9) +
    timm's conv_head and classifier (the head is not ours to count)."""
    timm_model = _timm_classifier(widen_factor)
    trunk = GhostNet(widen_factor, out_indices=(4, ))
    return _num_params([trunk]) + _num_params([timm_model.conv_head, timm_model.classifier])


# Parameters of the whole ImageNet classifiers, as /work/shared/REFERENCE.md section 1
# gives them: 5.86M at 1.1x, 5.18M at 1.0x (the GhostNet paper's ImageNet table,
# arXiv 1911.11907, rounds the 1.0x count to 5.2M). Given to three figures: +-5000.
@pytest.mark.parametrize('widen_factor,expected', [(1.1, 5.86e6), (1.0, 5.18e6)])
def test_imagenet_classifier_param_count(widen_factor, expected):
    assert classifier_param_count(widen_factor) == pytest.approx(expected, abs=5e3)


@pytest.mark.parametrize('widen_factor', [1.0, 1.1, 1.3])
def test_trunk_param_count_equals_timms_exactly(widen_factor):
    """Tensor by tensor: our trunk is timm's classifier without conv_head and
    classifier, each tensor of the same shape (a missing SE block, bias or a
    channel count off by 4 changes the count by far less than 1%)."""
    timm_model = _timm_classifier(widen_factor)
    expected = {key: tuple(value.shape) for key, value in timm_model.state_dict().items()
                if not key.startswith(('conv_head.', 'classifier.'))}
    ours = GhostNet(widen_factor, out_indices=(4, ))
    assert {key: tuple(value.shape) for key, value in ours.state_dict().items()} == expected
    head = _num_params([timm_model.conv_head, timm_model.classifier])
    assert _num_params([ours]) == _num_params([timm_model]) - head


def test_official_key_names():
    keys = set(GhostNet(1.0, out_indices=(4, )).state_dict())
    for key in ('conv_stem.weight', 'bn1.running_mean',
                'blocks.0.0.ghost1.primary_conv.0.weight',
                'blocks.0.0.ghost1.primary_conv.1.weight',
                'blocks.0.0.ghost1.cheap_operation.0.weight',
                'blocks.0.0.ghost2.cheap_operation.1.running_var',
                'blocks.1.0.conv_dw.weight', 'blocks.1.0.bn_dw.weight',
                'blocks.1.0.shortcut.0.weight', 'blocks.1.0.shortcut.3.bias',
                'blocks.3.0.se.conv_reduce.weight', 'blocks.3.0.se.conv_expand.bias',
                'blocks.6.4.se.conv_reduce.bias', 'blocks.8.3.ghost2.primary_conv.0.weight',
                'blocks.9.0.conv.weight', 'blocks.9.0.bn1.num_batches_tracked'):
        assert key in keys, key
    assert not any(k.startswith(('conv_head', 'classifier')) for k in keys)
    assert 'blocks.0.0.shortcut.0.weight' not in keys  # identity shortcut


def test_make_divisible():
    assert make_divisible(16 * 1.1) == 16
    assert make_divisible(112 * 1.1) == 124
    assert make_divisible(1) == 4
    assert make_divisible(10, 8) == 16  # never more than 10% below the value


def test_ghostnet_norm_cfg_is_used():
    model = GhostNet(1.0, norm_cfg=dict(type='GN', num_groups=4))
    assert not any(isinstance(m, _BatchNorm) for m in model.modules())
    assert any(isinstance(m, nn.GroupNorm) for m in model.modules())


# TVMobileNetV3 in particular

def test_tv_mobilenet_v3_state_dict_is_torchvision_features():
    torch.manual_seed(0)
    torchvision_model = mobilenet_v3_large(weights=None).eval()
    ours = TVMobileNetV3(out_indices=(4, )).eval()
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


def test_tv_mobilenet_v3_pretrained_init_cfg_loads_a_torchvision_checkpoint(tmp_path):
    torch.manual_seed(1)
    state = mobilenet_v3_large(weights=None).state_dict()
    torch.save(state, tmp_path / 'mobilenet_v3_large.pth')
    model = TVMobileNetV3(init_cfg=dict(type='Pretrained',
                                        checkpoint=str(tmp_path / 'mobilenet_v3_large.pth')))
    model.init_weights()
    loaded = model.state_dict()
    assert loaded and all(torch.equal(v, state[k]) for k, v in loaded.items())
