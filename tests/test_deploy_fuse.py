"""GhostNet's deploy form computes what the trained backbone computes, with
BatchNorm folded, no slice and (split form) no concat; deploy_model does the
same for whole detectors and the peer backbones."""
import onnx
import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from torch.nn.modules.batchnorm import _BatchNorm

from ghostdet.deploy import ChannelLayout, deploy_model, ghostnet_deploy_form
from ghostdet.deploy.fuse import DeployGhostModule
from ghostdet.models import GhostModule, GhostNet


def randomize(model, seed):
    """Random weights and BatchNorm statistics far from the identity, scaled
    so that activations stay of order 1 through the network."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.dtype.is_floating_point:
                continue
            values = torch.randn(tensor.shape, generator=generator)
            if name.endswith('running_var'):
                values = values.abs() * 0.5 + 0.5
            elif tensor.dim() == 4:  # conv weights: unit gain
                values = values / tensor[0].numel()**0.5
            elif name.endswith('.weight'):  # BN scales
                values = 0.5 + 0.1 * values
            else:
                values = 0.1 * values
            tensor.copy_(values)
    return model.eval()


def assert_same_outputs(got, expected):
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert a.shape == b.shape
        assert b.abs().mean() > 1e-2  # not a comparison of zeros
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('width', [1.1, 0.5])
@pytest.mark.parametrize('form,align', [('concat', 1), ('split', 16), ('split', 1)])
def test_deploy_form_equals_trained_backbone(width, form, align, one_thread):
    backbone = randomize(GhostNet(width, out_indices=(0, 1, 2, 3, 4)), seed=int(width * 10))
    deploy = ghostnet_deploy_form(backbone, form=form, align=align)
    assert not any(isinstance(m, _BatchNorm) for m in deploy.modules())
    x = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert_same_outputs(deploy(x), backbone(x))
    assert backbone.training is False and any(isinstance(m, _BatchNorm)
                                              for m in backbone.modules())  # not changed


def onnx_op_counts(model, x):
    import io
    buffer = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(model, (x, ), buffer, dynamo=False, opset_version=17)
    counts = {}
    for node in onnx.load_from_string(buffer.getvalue()).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def test_deploy_forms_drop_slice_batchnorm_and_concat(one_thread):
    backbone = randomize(GhostNet(1.1), seed=0)
    x = torch.rand(1, 3, 64, 64)
    plain = onnx_op_counts(backbone, x)
    assert plain['Slice'] >= 32 and plain['Concat'] >= 32  # one each per Ghost module
    concat = onnx_op_counts(ghostnet_deploy_form(backbone, form='concat'), x)
    assert 'Slice' not in concat and 'BatchNormalization' not in concat
    split = onnx_op_counts(ghostnet_deploy_form(backbone, form='split', align=16), x)
    assert 'Slice' not in split and 'BatchNormalization' not in split
    assert split.get('Concat', 0) == 4  # only where the four outputs leave the backbone


def test_ghost_module_with_an_odd_width_keeps_the_sliced_channels_out(one_thread):
    module = randomize(GhostModule(8, 7), seed=2)  # 4 intrinsic maps, 3 of their 4 ghosts kept
    x = torch.randn(1, 8, 10, 12)
    for form, align in (('concat', 1), ('split', 16)):
        deploy = DeployGhostModule(module, ChannelLayout.natural(8), form=form, align=align)
        with torch.no_grad():
            parts = deploy([x])
            got = torch.cat(parts, 1).index_select(1, deploy.layout.flat_positions())
            torch.testing.assert_close(got, module(x), rtol=1e-5, atol=1e-5)


def build_from_config(path, part=None):
    from ghostdet.models import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(path).model
    if part is not None:
        cfg = dict(cfg[part])  # building does not load the init_cfg's weights
        cfg.pop('_delete_', None)
    model = MODELS.build(cfg)
    randomize(model, seed=3)
    return model


@pytest.mark.parametrize('config', ['configs/retinanet_mobilenetv3.py',
                                    'configs/retinanet_mobilenetv2.py'])
def test_deploy_model_of_peer_backbones(config, one_thread):
    backbone = build_from_config(config, 'backbone')
    x = torch.randn(1, 3, 64, 64)
    for target in ('torch', 'onnxruntime'):
        with torch.no_grad():
            assert_same_outputs(deploy_model(backbone, target=target)(x), backbone(x))


def test_deploy_model_of_a_detector_gives_its_detections(one_thread):
    from mmdet.structures import DetDataSample
    detector = build_from_config('configs/retinanet_ghostnet_small.py')
    detector.bbox_head.test_cfg.score_thr = 0.0
    deployed = deploy_model(detector, target='torch')
    assert not any(isinstance(m, _BatchNorm) for m in deployed.modules())
    x = torch.randn(1, 3, 128, 160)
    samples = [DetDataSample(metainfo=dict(img_shape=(128, 160), scale_factor=(1., 1.)))]
    with torch.no_grad():
        expected = detector.predict(x, samples)[0].pred_instances
        got = deployed.predict(x, samples)[0].pred_instances
    assert len(expected.bboxes) > 10
    torch.testing.assert_close(got.bboxes, expected.bboxes, rtol=0, atol=1e-3)
    assert torch.equal(got.labels, expected.labels)
