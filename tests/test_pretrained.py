"""Loading ImageNet checkpoints into GhostNet: every tensor matched, or a loud error."""
import pytest
import torch
import torchvision

from conftest import run_tool
from ghostdet.checkpoint_convert import convert_to_mmdet, infer_widen_factor
from ghostdet.models import GhostNet
from ghostdet.models.pretrained import PretrainedMismatchError


def official_classifier_state(width, seed=0):
    """A state dict in the official ``state_dict_73.98.pth`` layout: bare
    keys, the trunk up to blocks.9, then conv_head and classifier."""
    torch.manual_seed(seed)
    state = GhostNet(width, out_indices=(4, )).state_dict()
    for value in state.values():
        if value.dtype.is_floating_point:
            value.copy_(torch.randn_like(value))
    final = state['blocks.9.0.conv.weight'].shape[0]
    state['conv_head.weight'] = torch.randn(1280, final, 1, 1)
    state['conv_head.bias'] = torch.randn(1280)
    state['classifier.weight'] = torch.randn(1000, 1280)
    state['classifier.bias'] = torch.randn(1000)
    return state


def pretrained(path, **kwargs):
    model = GhostNet(init_cfg=dict(type='Pretrained', checkpoint=str(path)), **kwargs)
    model.init_weights()
    return model


def assert_loaded(model, state, prefix=''):
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, state[prefix + name], msg=name)


def test_official_layout(tmp_path):
    state = official_classifier_state(1.0)
    torch.save(state, tmp_path / 'state_dict_73.98.pth')
    model = pretrained(tmp_path / 'state_dict_73.98.pth', widen_factor=1.0)
    assert_loaded(model, state)


def test_timm_layout(tmp_path):
    from timm.models import ghostnet
    reference = ghostnet._create_ghostnet('ghostnet_100', width=1.0)
    torch.save(reference.state_dict(), tmp_path / 'timm.pth')
    model = pretrained(tmp_path / 'timm.pth', widen_factor=1.0, out_indices=(0, 1, 2, 3, 4))
    assert_loaded(model, reference.state_dict())


def test_mmdet_layout_with_backbone_prefix(tmp_path):
    backbone = official_classifier_state(1.1)
    state = {f'backbone.{k}': v for k, v in backbone.items()}
    state['neck.lateral_convs.0.conv.weight'] = torch.randn(256, 44, 1, 1)
    torch.save(dict(state_dict=state, meta=dict(epoch=12)), tmp_path / 'det.pth')
    model = pretrained(tmp_path / 'det.pth', widen_factor=1.1)
    assert_loaded(model, state, prefix='backbone.')


def test_wrong_width_fails_and_names_mismatches(tmp_path):
    torch.save(official_classifier_state(1.0), tmp_path / 'w10.pth')
    with pytest.raises(PretrainedMismatchError) as error:
        pretrained(tmp_path / 'w10.pth', widen_factor=1.1)
    message = str(error.value)
    assert 'widen_factor=1.1' in message
    assert 'shape: conv_stem.weight' not in message  # the stem is 16 channels at both
    assert 'shape: blocks.1.0.ghost1.primary_conv.0.weight' in message
    assert 'in the checkpoint' in message


def test_other_model_fails_and_names_missing_keys(tmp_path):
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / 'r18.pth')
    with pytest.raises(PretrainedMismatchError, match='missing: conv_stem.weight'):
        pretrained(tmp_path / 'r18.pth', widen_factor=1.0)


def test_truncated_checkpoint_fails(tmp_path):
    state = official_classifier_state(1.0)
    del state['blocks.8.3.se.conv_expand.bias']
    torch.save(state, tmp_path / 'cut.pth')
    with pytest.raises(PretrainedMismatchError, match='1 are missing'):
        pretrained(tmp_path / 'cut.pth', widen_factor=1.0)


def test_wrong_prefix_fails(tmp_path):
    torch.save(official_classifier_state(1.0), tmp_path / 'w10.pth')
    model = GhostNet(1.0, init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'w10.pth'),
                                        prefix='backbone.'))
    with pytest.raises(PretrainedMismatchError, match='starts with "backbone."'):
        model.init_weights()


def test_detector_build_fails_loudly_on_a_wrong_checkpoint(tmp_path):
    from mmdet.registry import MODELS
    from mmengine.config import Config
    torch.save(official_classifier_state(1.0), tmp_path / 'w10.pth')
    cfg = Config.fromfile('configs/retinanet_ghostnet.py')
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=str(tmp_path / 'w10.pth'))
    with pytest.raises(PretrainedMismatchError):
        MODELS.build(cfg.model).init_weights()


def test_convert_official_checkpoint(tmp_path):
    state = official_classifier_state(1.1)
    torch.save(state, tmp_path / 'official.pth')
    info = convert_to_mmdet(str(tmp_path / 'official.pth'), str(tmp_path / 'mmdet.pth'))
    assert info['widen_factor'] == 1.1
    assert info['dropped'] == ['classifier.bias', 'classifier.weight', 'conv_head.bias',
                               'conv_head.weight']
    converted = torch.load(tmp_path / 'mmdet.pth', weights_only=True)
    assert all(k.startswith('backbone.') for k in converted['state_dict'])
    assert info['num_tensors'] == len(converted['state_dict'])
    model = pretrained(tmp_path / 'mmdet.pth', widen_factor=1.1)
    assert_loaded(model, state)
    with pytest.raises(FileExistsError):
        convert_to_mmdet(str(tmp_path / 'official.pth'), str(tmp_path / 'mmdet.pth'))


def test_width_inference_rejects_other_models():
    assert infer_widen_factor(official_classifier_state(0.5)) == 0.5
    with pytest.raises(PretrainedMismatchError, match='not a GhostNet'):
        infer_widen_factor(torchvision.models.resnet18(weights=None).state_dict())


def test_convert_tool(tmp_path):
    torch.save(official_classifier_state(1.0), tmp_path / 'official.pth')
    result = run_tool(['tools/convert_checkpoint.py', str(tmp_path / 'official.pth'),
                       str(tmp_path / 'out.pth')])
    assert result.returncode == 0, result.stderr
    assert 'GhostNet 1.0x' in result.stdout and (tmp_path / 'out.pth').is_file()
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / 'r18.pth')
    result = run_tool(['tools/convert_checkpoint.py', str(tmp_path / 'r18.pth'),
                       str(tmp_path / 'out2.pth')])
    assert result.returncode == 1 and 'not a GhostNet' in result.stderr
    assert not (tmp_path / 'out2.pth').exists()
