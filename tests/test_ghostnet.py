import pytest
import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from ghostdet.models import GhostNet, MobileNetV3, make_divisible

# Output channels at strides 4/8/16/32 and of blocks.9, worked out by hand
# from the width rule (REFERENCE.md section 2 lists 1.0x and 1.1x).
EXPECTED_CHANNELS = {
    0.5: (12, 20, 56, 80, 480),
    1.0: (24, 40, 112, 160, 960),
    1.1: (28, 44, 124, 176, 1056),
    1.3: (32, 52, 144, 208, 1248),
}


def classifier_param_count(widen_factor):
    """Parameters of the ImageNet classifier: trunk + conv_head + classifier."""
    trunk = GhostNet(widen_factor, out_indices=(4, ))
    final = trunk.out_channels[0]
    head = (final * 1280 + 1280) + (1280 * 1000 + 1000)
    return sum(p.numel() for p in trunk.parameters()) + head


@pytest.mark.parametrize('widen_factor', sorted(EXPECTED_CHANNELS))
def test_output_channels_and_strides(widen_factor):
    model = GhostNet(widen_factor, out_indices=(0, 1, 2, 3, 4)).eval()
    assert model.out_channels == EXPECTED_CHANNELS[widen_factor]
    assert GhostNet.stage_channels(widen_factor) == EXPECTED_CHANNELS[widen_factor]
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 128, 96))
    assert isinstance(outs, tuple) and len(outs) == 5
    for out, channels, stride in zip(outs, EXPECTED_CHANNELS[widen_factor], (4, 8, 16, 32, 32)):
        assert tuple(out.shape) == (1, channels, 128 // stride, 96 // stride)


def test_default_outputs_are_the_four_stage_ends():
    model = GhostNet(1.1)
    assert model.out_indices == (0, 1, 2, 3)
    assert model.out_channels == (28, 44, 124, 176)
    assert len(model.blocks) == 9  # blocks.9 is not built when not requested


@pytest.mark.parametrize('widen_factor,expected', [(1.1, 5.86e6), (1.0, 5.18e6)])
def test_imagenet_classifier_param_count(widen_factor, expected):
    assert classifier_param_count(widen_factor) == pytest.approx(expected, rel=0.01)


def test_layers_after_last_output_are_not_built_or_run():
    full = GhostNet(1.0, out_indices=(0, 1, 2, 3))
    short = GhostNet(1.0, out_indices=(1, ))
    assert len(short.blocks) == 5
    assert sum(p.numel() for p in short.parameters()) < \
        sum(p.numel() for p in full.parameters()) / 10
    outs = short(torch.rand(2, 3, 64, 64))
    assert len(outs) == 1 and outs[0].shape == (2, 40, 8, 8)


def test_out_indices_order_is_kept():
    outs = GhostNet(1.0, out_indices=(3, 0)).eval()(torch.rand(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [160, 24]


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


def _frozen_ok(model, stages):
    frozen = [model.conv_stem, model.bn1]
    ends = (2, 4, 6, 8, 9)
    if stages >= 1:
        frozen += list(model.blocks[:ends[stages - 1] + 1])
    frozen_ids = {id(p) for m in frozen for p in m.parameters()}
    for param in model.parameters():
        assert param.requires_grad == (id(param) not in frozen_ids)
    for module in frozen:
        for sub in module.modules():
            if isinstance(sub, _BatchNorm):
                assert not sub.training
    return frozen_ids


@pytest.mark.parametrize('stages', [0, 1, 2, 3, 4, 5])
def test_frozen_stages(stages):
    model = GhostNet(1.0, out_indices=(0, 1, 2, 3, 4), frozen_stages=stages)
    model.train()
    frozen_ids = _frozen_ok(model, stages)
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
    for name, param in model.named_parameters():
        if id(param) in frozen_ids:
            assert torch.equal(param, before[name]), name


def test_no_frozen_stages():
    model = GhostNet(1.0).train()
    assert all(p.requires_grad for p in model.parameters())
    assert all(m.training for m in model.modules())


def test_norm_eval_keeps_running_stats():
    model = GhostNet(1.0, norm_eval=True)
    assert model.train() is model
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert bns and not any(m.training for m in bns)
    before = model.bn1.running_mean.clone()
    model(torch.rand(2, 3, 64, 64) * 5)
    assert torch.equal(model.bn1.running_mean, before)
    assert all(p.requires_grad for p in model.parameters())

    model = GhostNet(1.0, norm_eval=False).train()
    model(torch.rand(2, 3, 64, 64) * 5)
    assert not torch.equal(model.bn1.running_mean, before)


def test_with_cp_gives_the_same_gradients():
    torch.manual_seed(0)
    plain = GhostNet(0.5)
    checkpointed = GhostNet(0.5, with_cp=True)
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.rand(2, 3, 64, 64)
    for model in (plain, checkpointed):
        model.train()
        sum(o.sum() for o in model(x.clone().requires_grad_())).backward()
    for (name, a), b in zip(plain.named_parameters(), checkpointed.parameters()):
        torch.testing.assert_close(a.grad, b.grad, msg=name)


def test_norm_cfg_is_used():
    model = GhostNet(1.0, norm_cfg=dict(type='GN', num_groups=4))
    assert not any(isinstance(m, _BatchNorm) for m in model.modules())
    assert any(isinstance(m, nn.GroupNorm) for m in model.modules())


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
@pytest.mark.parametrize('backbone', [GhostNet, MobileNetV3])
def test_invalid_arguments(backbone, kwargs, message):
    with pytest.raises(ValueError, match=message):
        backbone(**kwargs)


def test_registered_in_mmdet():
    from mmdet.registry import MODELS
    model = MODELS.build(dict(type='GhostNet', widen_factor=1.1))
    assert isinstance(model, GhostNet)
    assert model.out_channels == (28, 44, 124, 176)
