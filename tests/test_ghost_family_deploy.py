"""RetinaNet and Faster R-CNN on RepGhostNet, GhostNetV2 and GhostNetV3 export
with tools/deploy.py (their backbones re-parameterised and BN-folded), give
PyTorch's detections in ONNX Runtime, and evaluate through tools/test.py like
their checkpoints. Small inputs (160 px), one training iteration at most."""
import glob
import os.path as osp
import pickle

import numpy as np
import pytest
import torch

from conftest import CONFIGS, call_tool, export_run_options
from ghostdet.models import GhostNetV2, GhostNetV3, RepGhostNet
from ghostdet.runner import test as run_test
from ghostdet.runner import train
from ghostdet.synthetic import make_coco_dataset

pytestmark = pytest.mark.usefixtures('one_thread')

BASES = {'retinanet': 'retinanet_ghostnet_small.py',
         'faster_rcnn': 'faster_rcnn_ghostnet_small.py'}


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    # Square 160 px images resize to 320x320 without padding (see
    # test_deploy_detectors.py: padding gives ties that NMS may break either way).
    return make_coco_dataset(tmp_path_factory.mktemp('family_data'), num_train=4, num_val=4,
                             seed=5, min_size=160, max_size=160, max_objects=3)


def family_config(tmp_path, detector, cls, width):
    """The small-data detector config with ``cls`` at ``width`` as backbone
    (RetinaNet-RepGhostNet 1.11x is configs/retinanet_repghostnet_small.py)."""
    if (detector, cls, width) == ('retinanet', RepGhostNet, 1.11):
        return osp.join(CONFIGS, 'retinanet_repghostnet_small.py')
    config = tmp_path / f'{detector}_{cls.__name__}.py'
    config.write_text(
        f"_base_ = '{osp.join(CONFIGS, BASES[detector])}'\n"
        f"model = dict(\n"
        f"    backbone=dict(_delete_=True, type='{cls.__name__}', widen_factor={width},\n"
        f"                  out_indices=(0, 1, 2, 3), init_cfg=None),\n"
        f"    neck=dict(in_channels={list(cls.stage_channels(width)[:4])}))\n")
    return str(config)


def data_options(dataset, detector):
    return dict(export_run_options(dataset, two_stage=detector == 'faster_rcnn'),
                **{'test_dataloader.dataset.pipeline.1.scale': (160, 160)})  # Resize


def as_cli(options):
    return ['--cfg-options'] + [f'{key}={value}' for key, value in options.items()]


def with_random_bn_statistics(detector):
    """Non-trivial BatchNorm statistics in the backbone, so that folding them
    is tested on more than identities."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in detector.backbone.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.running_mean.copy_(torch.randn(module.running_mean.shape,
                                                      generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(module.running_var.shape,
                                                    generator=generator) + 0.5)
    return detector


def test_repghostnet_onnx_evaluates_like_the_checkpoint(dataset, tmp_path):
    """RetinaNet-RepGhostNet 1.11x (configs/retinanet_repghostnet_small.py)
    trained one iteration, exported by tools/deploy.py: tools/test.py on the
    .onnx gives the .pth's bbox mAP within 0.002."""
    detector = 'retinanet'
    config = family_config(tmp_path, detector, RepGhostNet, 1.11)
    options = data_options(dataset, detector)
    train(config, work_dir=str(tmp_path / 'train'), cfg_options=options)
    checkpoint = str(tmp_path / 'train' / 'epoch_1.pth')
    result = call_tool(['tools/deploy.py', config, checkpoint, '--out', str(tmp_path / 'onnx'),
                        *as_cli(options)])
    assert result.returncode == 0, result.stderr
    onnx_file = str(tmp_path / 'onnx' / 'model.onnx')
    metrics, predictions = {}, {}
    for name, model in (('pth', checkpoint), ('onnx', onnx_file)):
        out = str(tmp_path / f'{name}.pkl')
        metrics[name] = run_test(config, model, work_dir=str(tmp_path / name), out=out,
                                 cfg_options=options)
        with open(out, 'rb') as f:
            predictions[name] = pickle.load(f)
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50'):
        assert abs(metrics['onnx'][key] - metrics['pth'][key]) <= 0.002, key
    # A barely trained model's mAP is near 0 either way: the boxes are the check.
    assert len(predictions['onnx']) == len(predictions['pth']) == 4
    for got, expected in zip(predictions['onnx'], predictions['pth']):
        got, expected = got['pred_instances'], expected['pred_instances']
        assert len(expected['bboxes']) > 0
        np.testing.assert_allclose(got['bboxes'], expected['bboxes'], atol=1e-3)
        np.testing.assert_allclose(got['scores'], expected['scores'], atol=1e-4)


# One detector per backbone keeps the suite cheap (each export costs ~5-10 s of
# CPU); the other two pairs export the same way.
@pytest.mark.parametrize('cls,detector', [(GhostNetV2, 'faster_rcnn'),
                                          (GhostNetV3, 'retinanet')])
def test_export_gives_pytorch_detections(cls, detector, dataset, tmp_path):
    """GhostNetV2 and GhostNetV3 detectors (width 0.5, untrained heads,
    non-trivial backbone BatchNorm statistics) exported by tools/deploy.py:
    ONNX Runtime gives PyTorch's boxes and scores."""
    from mmdet.apis import inference_detector, init_detector
    from mmengine.config import Config

    from ghostdet.checkpoint import save_checkpoint_file
    from ghostdet.deploy import OnnxDetector
    config = family_config(tmp_path, detector, cls, 0.5)
    options = data_options(dataset, detector)
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(options)
    reference = with_random_bn_statistics(init_detector(cfg, device='cpu'))
    checkpoint = str(tmp_path / 'model.pth')
    save_checkpoint_file(dict(state_dict=reference.state_dict()), checkpoint)
    result = call_tool(['tools/deploy.py', config, checkpoint, '--out', str(tmp_path / 'onnx'),
                        *as_cli(options)])
    assert result.returncode == 0, result.stderr
    runtime = OnnxDetector(str(tmp_path / 'onnx' / 'model.onnx'), threads=1)
    compared = 0
    for image in sorted(glob.glob(osp.join(dataset['val_img_dir'], '*.jpg')))[:2]:
        expected = inference_detector(reference, image).pred_instances
        got = runtime([image])[0].pred_instances
        assert len(got.bboxes) == len(expected.bboxes) > 0
        torch.testing.assert_close(got.bboxes, expected.bboxes, atol=1e-3, rtol=0)
        torch.testing.assert_close(got.scores, expected.scores, atol=1e-4, rtol=0)
        compared += len(got.bboxes)
    assert compared > 20
