"""Loading ImageNet checkpoints into GhostNet: every tensor matched, or a loud error.

The official layout comes from timm's ``ghostnet_100``, whose state dict is the
official ``state_dict_73.98.pth`` layout key for key (same module names, no
renaming in timm's loader), so these tests do not build their checkpoints
from ghostdet's own model."""
import pytest
import torch
import torchvision
from timm.models import ghostnet as timm_ghostnet

from conftest import call_tool, run_tool
from ghostdet.checkpoint import PUBLIC_CHECKPOINTS, convert_to_mmdet, infer_widen_factor
from ghostdet.errors import OutputExistsError, PretrainedMismatchError
from ghostdet.models import GhostNet


def official_state(width, seed=0):
    """A classifier state dict in the official layout (bare keys: the trunk
    up to blocks.9, then conv_head and classifier), random values."""
    generator = torch.Generator().manual_seed(seed)
    state = timm_ghostnet._create_ghostnet('ghostnet_100', width=width).state_dict()
    for value in state.values():
        if value.dtype.is_floating_point:
            value.copy_(torch.randn(value.shape, generator=generator))
    return state


def pretrained(path, **kwargs):
    model = GhostNet(init_cfg=dict(type='Pretrained', checkpoint=str(path)), **kwargs)
    model.init_weights()
    return model


def assert_loaded(model, state, prefix=''):
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, state[prefix + name], msg=name)


def test_official_layout_loads_every_tensor(tmp_path):
    state = official_state(1.0)
    assert {'conv_head.weight', 'classifier.bias'} <= set(state)
    torch.save(state, tmp_path / 'state_dict_73.98.pth')
    model = pretrained(tmp_path / 'state_dict_73.98.pth', widen_factor=1.0,
                       out_indices=(0, 1, 2, 3, 4))
    assert_loaded(model, state)
    # Everything but the classifier head is the backbone's.
    assert set(state) - set(model.state_dict()) == {
        'conv_head.weight', 'conv_head.bias', 'classifier.weight', 'classifier.bias'}


def test_public_checkpoint_record_matches_the_official_layout():
    entry = PUBLIC_CHECKPOINTS['ghostnet_1.0x_official']
    assert entry.widen_factor == 1.0 and entry.backbone == 'GhostNet'
    assert entry.url.endswith('/state_dict_73.98.pth')
    assert entry.num_tensors == len(official_state(1.0))
    tv = PUBLIC_CHECKPOINTS['mobilenet_v3_large.IMAGENET1K_V1']
    weights = torchvision.models.MobileNet_V3_Large_Weights.IMAGENET1K_V1
    assert tv.url == weights.url
    assert tv.num_tensors == len(torchvision.models.mobilenet_v3_large().state_dict())
    assert tv.imagenet_top1 == weights.meta['_metrics']['ImageNet-1K']['acc@1']


def test_old_checkpoints_without_num_batches_tracked_load(tmp_path):
    """PyTorch's own BatchNorm loading fills in the counter; so does ours."""
    state = {k: v for k, v in official_state(1.0).items()
             if not k.endswith('num_batches_tracked')}
    torch.save(state, tmp_path / 'old.pth')
    model = pretrained(tmp_path / 'old.pth', widen_factor=1.0)
    assert_loaded(model, {k: state.get(k, v) for k, v in model.state_dict().items()})


def test_mmdet_layout_with_backbone_prefix(tmp_path):
    state = {f'backbone.{k}': v for k, v in official_state(1.1).items()}
    state['neck.lateral_convs.0.conv.weight'] = torch.randn(256, 44, 1, 1)
    torch.save(dict(state_dict=state, meta=dict(epoch=12)), tmp_path / 'det.pth')
    model = pretrained(tmp_path / 'det.pth', widen_factor=1.1)
    assert_loaded(model, state, prefix='backbone.')


def test_wrong_width_fails_and_names_mismatches(tmp_path):
    torch.save(official_state(1.0), tmp_path / 'w10.pth')
    with pytest.raises(PretrainedMismatchError) as error:
        pretrained(tmp_path / 'w10.pth', widen_factor=1.1)
    message = str(error.value)
    assert 'GhostNet(widen_factor=1.1)' in message
    assert 'shape: conv_stem.weight' not in message  # the stem is 16 channels at both
    assert 'shape: blocks.1.0.ghost1.primary_conv.0.weight' in message
    assert 'in the checkpoint' in message


def test_other_model_fails_and_names_missing_keys(tmp_path):
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / 'r18.pth')
    with pytest.raises(PretrainedMismatchError, match='missing: conv_stem.weight'):
        pretrained(tmp_path / 'r18.pth', widen_factor=1.0)


def test_truncated_state_dict_fails(tmp_path):
    state = official_state(1.0)
    del state['blocks.8.3.se.conv_expand.bias']
    torch.save(state, tmp_path / 'cut.pth')
    with pytest.raises(PretrainedMismatchError, match='1 are missing'):
        pretrained(tmp_path / 'cut.pth', widen_factor=1.0)


def test_wrong_prefix_fails(tmp_path):
    torch.save(official_state(1.0), tmp_path / 'w10.pth')
    model = GhostNet(1.0, init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'w10.pth'),
                                        prefix='backbone.'))
    with pytest.raises(PretrainedMismatchError, match='starts with "backbone."'):
        model.init_weights()


def test_detector_build_fails_loudly_on_a_wrong_checkpoint(tmp_path):
    from mmdet.registry import MODELS
    from mmengine.config import Config
    torch.save(official_state(1.0), tmp_path / 'w10.pth')
    cfg = Config.fromfile('configs/retinanet_ghostnet.py')
    cfg.merge_from_dict({'model.backbone.init_cfg.checkpoint': str(tmp_path / 'w10.pth')})
    with pytest.raises(PretrainedMismatchError):
        MODELS.build(cfg.model).init_weights()


def test_convert_official_checkpoint(tmp_path):
    state = official_state(1.1)
    torch.save(state, tmp_path / 'official.pth')
    info = convert_to_mmdet(str(tmp_path / 'official.pth'), str(tmp_path / 'mmdet.pth'))
    assert info['widen_factor'] == 1.1
    assert info['dropped'] == ['classifier.bias', 'classifier.weight', 'conv_head.bias',
                               'conv_head.weight']
    converted = torch.load(tmp_path / 'mmdet.pth', weights_only=True)
    assert all(k.startswith('backbone.') for k in converted['state_dict'])
    assert info['num_tensors'] == len(converted['state_dict']) == len(state) - 4
    model = pretrained(tmp_path / 'mmdet.pth', widen_factor=1.1)
    assert_loaded(model, state)
    with pytest.raises(OutputExistsError):
        convert_to_mmdet(str(tmp_path / 'official.pth'), str(tmp_path / 'mmdet.pth'))


@pytest.mark.parametrize('width', [0.5, 1.0, 1.1, 1.3, 0.75, 2.0])
def test_width_is_read_from_the_tensor_shapes(width, monkeypatch):
    state = official_state(width)
    # No model is built to find the width.
    monkeypatch.setattr(GhostNet, '__init__', lambda *args, **kwargs: pytest.fail('built'))
    found = infer_widen_factor(state)
    assert GhostNet.stage_channels(found) == GhostNet.stage_channels(width)
    if width in GhostNet.named_widths:
        assert found == width


def test_width_inference_rejects_other_models():
    with pytest.raises(PretrainedMismatchError, match='not a GhostNet'):
        infer_widen_factor(torchvision.models.resnet18(weights=None).state_dict())


def test_convert_tool(tmp_path):
    torch.save(official_state(1.0), tmp_path / 'official.pth')
    result = run_tool(['tools/convert_checkpoint.py', str(tmp_path / 'official.pth'),
                       str(tmp_path / 'out.pth')])
    assert result.returncode == 0, result.stderr
    assert 'GhostNet 1.0x' in result.stdout and (tmp_path / 'out.pth').is_file()
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / 'r18.pth')
    result = call_tool(['tools/convert_checkpoint.py', str(tmp_path / 'r18.pth'),
                        str(tmp_path / 'out2.pth')])
    assert result.returncode == 1 and 'not a GhostNet' in result.stderr
    assert 'Traceback' not in result.stderr
    assert not (tmp_path / 'out2.pth').exists()
