"""Exported detectors (tools/deploy.py) give PyTorch's detections in ONNX
Runtime, evaluate through tools/test.py like the checkpoint, and refuse what
they cannot run."""
import contextlib
import functools
import os.path as osp
import pickle

import numpy as np
import pytest
import torch

from conftest import REPO, call_tool, export_run_options, run_tool
from ghostdet.deploy import OnnxDetector, export_detector
from ghostdet.errors import DeployError
from ghostdet.runner import test as run_test
from ghostdet.runner import train
from ghostdet.synthetic import make_coco_dataset

RETINANET = 'configs/retinanet_ghostnet_small.py'
FASTER_RCNN = 'configs/faster_rcnn_ghostnet_small.py'


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    # Square images resize to exactly 320x320: no padding. Zero padding gives
    # a barely trained detector runs of exactly equal scores, and which of
    # equal scores NMS keeps is up to the implementation.
    return make_coco_dataset(tmp_path_factory.mktemp('deploy_data'), num_train=4, num_val=6,
                             seed=3, min_size=160, max_size=160, max_objects=3)


def data_options(dataset, config):
    return export_run_options(dataset, two_stage=config == FASTER_RCNN)


@pytest.fixture(scope='module')
def trained(dataset, tmp_path_factory):
    """A checkpoint of each detector after one training iteration."""
    checkpoints = {}
    for config in (RETINANET, FASTER_RCNN):
        work_dir = str(tmp_path_factory.mktemp('trained'))
        train(config, work_dir=work_dir, cfg_options=data_options(dataset, config))
        checkpoints[config] = osp.join(work_dir, 'epoch_1.pth')
    return checkpoints


@pytest.fixture(scope='module')
def exported(trained, dataset, tmp_path_factory):
    """Each detector exported, with its INT8 model, from an empty working
    directory (``left_in_cwd``: what the export left there)."""
    result = {}
    for config, checkpoint in trained.items():
        cwd = tmp_path_factory.mktemp('cwd')
        with contextlib.chdir(cwd):
            result[config] = export_detector(
                osp.join(REPO, config), checkpoint, out_dir=str(tmp_path_factory.mktemp('onnx')),
                int8=True, num_calibration=4, cfg_options=data_options(dataset, config))
        result[config]['left_in_cwd'] = list(cwd.iterdir())
    return result


@pytest.fixture(scope='module')
def evaluated(dataset, tmp_path_factory):
    """``evaluated(config, model_file)``: ``tools/test.py``'s metrics and
    predictions, computed once per model file."""
    @functools.cache
    def evaluate(config, model_file):
        work_dir = tmp_path_factory.mktemp('test')
        out = str(work_dir / 'predictions.pkl')
        metrics = run_test(config, model_file, work_dir=str(work_dir), out=out,
                           cfg_options=data_options(dataset, config))
        with open(out, 'rb') as f:
            return metrics, pickle.load(f)
    return evaluate


def val_images(dataset):
    import glob
    return sorted(glob.glob(osp.join(dataset['val_img_dir'], '*.jpg')))


@pytest.mark.parametrize('config', [RETINANET, FASTER_RCNN])
def test_onnx_runtime_gives_pytorch_detections(config, trained, exported, dataset, one_thread):
    from mmdet.apis import inference_detector, init_detector
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(data_options(dataset, config))
    reference = init_detector(cfg, trained[config], device='cpu')
    runtime = OnnxDetector(exported[config]['onnx'], threads=1)
    compared = 0
    for image in val_images(dataset):
        expected = inference_detector(reference, image).pred_instances
        got = runtime([image])[0].pred_instances
        compared += assert_same_detections(got, expected)
    assert compared > 50


def assert_same_detections(got, expected, *, box_atol=1e-3, score_atol=1e-4, tie=1e-3):
    """Assert that ``got`` holds ``expected``'s detections: as many, the same
    sorted scores, and for each expected detection one of the same label,
    box and score, in any order. An expected detection may lack its match
    only if another one scores within ``tie`` of it (which of near-equal
    candidates NMS and the top-k cuts keep is up to the implementation: a
    barely trained Faster R-CNN's proposals are full of such ties), and then
    at most one in ten. Returns how many matched."""
    assert len(got.bboxes) == len(expected.bboxes) > 0
    torch.testing.assert_close(got.scores.sort(descending=True).values,
                               expected.scores.sort(descending=True).values,
                               atol=score_atol, rtol=0)
    unmatched, matched = set(range(len(got.bboxes))), 0
    for i, (box, score, label) in enumerate(zip(expected.bboxes, expected.scores,
                                                expected.labels)):
        same = [j for j in sorted(unmatched) if got.labels[j] == label
                and abs(got.scores[j] - score) <= score_atol
                and (got.bboxes[j] - box).abs().max() <= box_atol]
        if same:
            unmatched.remove(same[0])
            matched += 1
            continue
        gaps = (expected.scores - score).abs()
        gaps[i] = float('inf')
        assert gaps.min() <= tie, \
            f'no detection matches {label=} {score=:.5f} box={box.tolist()}, not a near tie'
    assert matched >= 0.9 * len(expected.bboxes), (matched, len(expected.bboxes))
    return matched


def test_a_failed_export_leaves_the_previous_model(exported, trained, dataset, tmp_path,
                                                   monkeypatch):
    import shutil

    import ghostdet.deploy.export as export
    out = tmp_path / 'out'
    shutil.copytree(osp.dirname(exported[RETINANET]['onnx']), out)
    before = {path.name: path.read_bytes() for path in out.iterdir()}

    def fails_half_way(graph, target, example_inputs):
        target.write(b'half an ONNX model')
        raise RuntimeError('killed')

    monkeypatch.setattr(export, 'export_onnx', fails_half_way)
    with pytest.raises(RuntimeError, match='killed'):
        export_detector(RETINANET, trained[RETINANET], out_dir=str(out),
                        cfg_options=data_options(dataset, RETINANET))
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


def test_test_tool_evaluates_onnx_like_the_checkpoint(trained, exported, evaluated, dataset):
    metrics_pth, predictions_pth = evaluated(RETINANET, trained[RETINANET])
    metrics_onnx, predictions_onnx = evaluated(RETINANET, exported[RETINANET]['onnx'])
    assert 'coco/bbox_mAP' in metrics_onnx
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50'):
        assert abs(metrics_onnx[key] - metrics_pth[key]) <= 0.002
    assert len(predictions_onnx) == len(predictions_pth) == len(val_images(dataset))
    for got, expected in zip(predictions_onnx, predictions_pth):
        assert got['img_id'] == expected['img_id']
        np.testing.assert_allclose(got['pred_instances']['bboxes'],
                                   expected['pred_instances']['bboxes'], atol=1e-3)
        assert np.array_equal(got['pred_instances']['labels'], expected['pred_instances']['labels'])


@pytest.mark.parametrize('config', [RETINANET, FASTER_RCNN])
def test_int8_model_runs_in_the_test_tool(config, exported, evaluated, dataset):
    """The INT8 model evaluates close to the float ONNX model it was made from,
    on the same images: same mAP within quantisation error, and mostly the
    same boxes and labels."""
    import json

    import onnx
    from torchvision.ops import box_iou
    result = exported[config]
    graph = onnx.load(result['onnx_int8']).graph
    assert {'QuantizeLinear', 'DequantizeLinear', 'NonMaxSuppression'} <= {
        node.op_type for node in graph.node}
    # By default the neck and heads are quantised, GhostNet is not (its
    # depthwise and small 1x1 convolutions gain nothing on x86 CPUs); the
    # choice is written into deploy.json.
    dequantized = {node.output[0] for node in graph.node if node.op_type == 'DequantizeLinear'}
    weighted = [node for node in graph.node if node.op_type in ('Conv', 'Gemm', 'MatMul')]
    int8_stages = {node.name.split('/')[1] for node in weighted if node.input[1] in dequantized}
    float_stages = {node.name.split('/')[1] for node in weighted
                    if node.input[1] not in dequantized}
    assert int8_stages == ({'neck', 'head'} if config == RETINANET else
                           {'neck', 'rpn', 'bbox_head'})
    assert float_stages == {'backbone'}
    with open(result['json']) as f:
        assert json.load(f)['int8']['stages'] == ['neck', 'head']
    assert result['left_in_cwd'] == []  # quantisation leaves nothing in the working directory
    for runtime in ('onnxruntime', 'openvino'):
        detector = OnnxDetector(result['onnx_int8'], runtime=runtime, threads=1)
        for sample in detector(val_images(dataset)[:2]):
            boxes = sample.pred_instances.bboxes
            assert len(boxes) > 0
            assert (boxes >= 0).all() and (boxes <= 160).all()  # the images are 160x160

    metrics_fp32, predictions_fp32 = evaluated(config, result['onnx'])
    metrics_int8, predictions_int8 = evaluated(config, result['onnx_int8'])
    # The fixtures' models trained one iteration: mAP near 0, so this alone
    # proves little; the box-by-box comparison below is the real check.
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50'):
        assert abs(metrics_int8[key] - metrics_fp32[key]) <= 0.02, key
    # Box by box: nearly every one of the float model's 10 top boxes per image
    # has an INT8 box of the same label over it.
    matched = total = 0
    for got, expected in zip(predictions_int8, predictions_fp32):
        assert got['img_id'] == expected['img_id']
        expected, got = expected['pred_instances'], got['pred_instances']
        top = torch.as_tensor(expected['scores']).argsort(descending=True)[:10]
        ious = box_iou(torch.as_tensor(expected['bboxes'])[top].float(),
                       torch.as_tensor(got['bboxes']).float())
        same = torch.as_tensor(expected['labels'])[top][:, None] == torch.as_tensor(
            got['labels'])[None]
        matched += int(((ious > 0.5) & same).any(1).sum())
        total += len(top)
    assert total >= 50 and matched >= 0.9 * total, (matched, total)


def test_unexportable_head_is_named(trained, tmp_path):
    config = tmp_path / 'soft_nms.py'
    config.write_text(f"_base_ = ['{osp.abspath(RETINANET)}']\n"
                      "model = dict(test_cfg=dict(nms=dict(type='soft_nms')))\n")
    with pytest.raises(DeployError, match='soft_nms.*model.test_cfg.nms'):
        export_detector(str(config), trained[RETINANET], out_dir=str(tmp_path / 'out'))
    fcos = tmp_path / 'fcos.py'
    fcos.write_text("_base_ = 'mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py'\n")
    with pytest.raises(DeployError, match='FCOS is not supported'):
        export_detector(str(fcos), trained[RETINANET], out_dir=str(tmp_path / 'out'))


def test_checkpoint_of_another_model_is_refused(trained, tmp_path):
    result = run_tool(['tools/deploy.py', RETINANET, trained[FASTER_RCNN], '--out',
                       str(tmp_path)])
    assert result.returncode == 1
    assert f"error: checkpoint {trained[FASTER_RCNN]} does not fit the config's RetinaNet" in \
        result.stderr
    assert 'of another shape' in result.stderr and 'Traceback' not in result.stderr


def test_onnx_of_another_model_is_refused(exported, dataset, tmp_path):
    options = data_options(dataset, RETINANET)
    with pytest.raises(DeployError, match='holds another model'):
        run_test(RETINANET, exported[FASTER_RCNN]['onnx'], work_dir=str(tmp_path),
                 cfg_options=options)
    with pytest.raises(DeployError, match='test_cfg'):
        run_test(RETINANET, exported[RETINANET]['onnx'], work_dir=str(tmp_path),
                 cfg_options=dict(options, **{'model.test_cfg.score_thr': 0.3}))
    foreign = tmp_path / 'foreign.onnx'
    torch.onnx.export(torch.nn.Conv2d(3, 4, 1), (torch.rand(1, 3, 8, 8), ), str(foreign),
                      dynamo=False)
    args = [f'{key}={value}' for key, value in options.items()
            if key not in ('val_cfg', 'val_dataloader', 'val_evaluator')]
    result = call_tool(['tools/test.py', RETINANET, str(foreign), '--work-dir', str(tmp_path),
                        '--cfg-options', *args])
    assert result.returncode == 1
    assert 'not exported by tools/deploy.py' in result.stderr
    assert 'Traceback' not in result.stderr


# ----------------------------------------------------------------------------- OpenVINO


def _openvino_bf16():
    from ghostdet.deploy.runtime import openvino_supports_bf16
    return openvino_supports_bf16()


@pytest.mark.parametrize('config', [RETINANET, FASTER_RCNN])
def test_openvino_gives_onnx_runtime_detections(config, exported, dataset):
    """The same model.onnx in OpenVINO f32 gives ONNX Runtime's boxes, and
    f32 is asked for explicitly (OpenVINO picks bf16 by itself on CPUs that
    have it); bf16, where the CPU has it, is compiled in bf16."""
    from ghostdet.deploy.runtime import open_session
    onnx_file = exported[config]['onnx']
    reference = OnnxDetector(onnx_file, threads=1)
    openvino = OnnxDetector(onnx_file, runtime='openvino', threads=1)
    compiled = openvino.session.handle
    assert str(compiled.get_property('INFERENCE_PRECISION_HINT')) == "<Type: 'float32'>"
    assert compiled.get_property('INFERENCE_NUM_THREADS') == 1
    compared = 0
    for expected, got in zip(reference(val_images(dataset)), openvino(val_images(dataset))):
        expected, got = expected.pred_instances, got.pred_instances
        assert len(got.bboxes) == len(expected.bboxes) > 0
        torch.testing.assert_close(got.bboxes, expected.bboxes, atol=1e-2, rtol=0)
        torch.testing.assert_close(got.scores, expected.scores, atol=1e-4, rtol=0)
        assert torch.equal(got.labels.long(), expected.labels.long())
        compared += len(got.bboxes)
    assert compared > 50
    if _openvino_bf16():
        bf16 = open_session(onnx_file, runtime='openvino', precision='bf16', threads=1)
        assert str(bf16.handle.get_property('INFERENCE_PRECISION_HINT')) == \
            "<Type: 'bfloat16'>"


def test_openvino_models_share_the_process_s_one_core(exported, monkeypatch):
    """Every OpenVINO session of a process comes from one ``openvino.Core``:
    a second Core in a process can crash it later (openvinotoolkit/openvino#35338)."""
    import openvino

    from ghostdet.deploy import runtime
    made, original = [], openvino.Core

    def counted_core():
        made.append(original())
        return made[-1]

    monkeypatch.setattr(openvino, 'Core', counted_core)
    for _ in range(2):
        runtime.open_session(exported[RETINANET]['onnx'], runtime='openvino', threads=1)
    runtime.openvino_supports_bf16()
    assert len(made) <= 1  # none if an earlier test of this process made the Core


def test_test_tool_evaluates_in_openvino(exported, dataset, tmp_path):
    """tools/test.py --runtime openvino: ONNX Runtime's mAP and boxes in f32;
    bf16 runs where the CPU has it and is refused in one line where not."""
    config = RETINANET
    args = [f'{key}={value}' for key, value in data_options(dataset, config).items()
            if key not in ('val_cfg', 'val_dataloader', 'val_evaluator')]

    def evaluate(name, *options):
        out = tmp_path / f'{name}.pkl'
        result = call_tool(['tools/test.py', config, exported[config]['onnx'], '--work-dir',
                            tmp_path / name, '--out', out, *options, '--cfg-options', *args])
        if result.returncode:
            return result, None
        with open(out, 'rb') as f:
            return result, pickle.load(f)

    _, onnxruntime = evaluate('ort')
    result, openvino = evaluate('openvino', '--runtime', 'openvino')
    assert result.returncode == 0, result.stderr
    assert len(openvino) == len(onnxruntime) == len(val_images(dataset))
    for got, expected in zip(openvino, onnxruntime):
        assert got['img_id'] == expected['img_id']
        np.testing.assert_allclose(got['pred_instances']['bboxes'],
                                   expected['pred_instances']['bboxes'], atol=1e-2)
        assert np.array_equal(got['pred_instances']['labels'], expected['pred_instances']['labels'])
    result, bf16 = evaluate('bf16', '--runtime', 'openvino', '--precision', 'bf16')
    if _openvino_bf16():
        assert result.returncode == 0, result.stderr
        assert len(bf16) == len(onnxruntime)
    else:
        assert result.returncode == 1 and 'no bfloat16 instructions' in result.stderr


def test_bad_runtime_choices_end_in_one_line(trained, exported, dataset, tmp_path,
                                             monkeypatch):
    """A runtime that is not installed, bf16 on a CPU without it, bf16 in
    ONNX Runtime and unknown names: exit 1 with one line naming the fix."""
    import sys

    import ghostdet.deploy.runtime as runtime
    onnx_file = exported[RETINANET]['onnx']
    args = ['tools/test.py', RETINANET, onnx_file, '--work-dir', tmp_path, '--cfg-options',
            *[f'{key}={value}' for key, value in data_options(dataset, RETINANET).items()
              if key not in ('val_cfg', 'val_dataloader', 'val_evaluator')]]

    def refused(*options):
        result = call_tool(args + list(options))
        assert result.returncode == 1 and 'Traceback' not in result.stderr, result.stderr
        lines = result.stderr.strip().splitlines()
        return next(line for line in lines if line.startswith('error: '))

    assert refused('--precision', 'bf16') == (
        'error: --precision bf16 needs --runtime openvino: ONNX Runtime computes in fp32 on CPUs')
    assert 'choose one of onnxruntime, openvino' in refused('--runtime', 'tensorrt')
    assert 'choose one of fp32, bf16' in refused('--runtime', 'openvino', '--precision', 'fp16')
    with monkeypatch.context() as patch:
        patch.setattr(runtime, 'openvino_supports_bf16', lambda: False)
        assert 'has no bfloat16 instructions (AVX512-BF16 or AMX); use --precision fp32' in \
            refused('--runtime', 'openvino', '--precision', 'bf16')
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, 'openvino', None)  # as if it were not installed
        assert refused('--runtime', 'openvino') == (
            "error: runtime 'openvino' is not installed: pip install 'ghostdet[openvino]', "
            'or choose --runtime onnxruntime')
        with pytest.raises(DeployError, match='not installed'):
            OnnxDetector(onnx_file, runtime='openvino')
        # ONNX Runtime needs nothing of OpenVINO.
        assert len(OnnxDetector(onnx_file, threads=1)(val_images(dataset)[:1])) == 1
    # A PyTorch checkpoint runs in PyTorch: test.py and infer.py refuse a runtime for it.
    checkpoint = trained[RETINANET]
    pth_message = ('error: --runtime and --precision choose how an exported .onnx model runs; '
                   '{} is a PyTorch checkpoint (export it with tools/deploy.py)')
    for tool_args in (['tools/test.py', RETINANET, '{}', '--runtime', 'openvino'],
                      ['tools/infer.py', RETINANET, '{}', val_images(dataset)[0], '--out-dir',
                       tmp_path / 'out', '--precision', 'bf16']):
        result = call_tool([arg.format(checkpoint) if arg == '{}' else arg for arg in tool_args])
        assert result.returncode == 1 and 'Traceback' not in result.stderr, result.stderr
        assert pth_message.format(checkpoint) in result.stderr.splitlines()


def test_infer_tool_runs_an_onnx_model_in_openvino(exported, dataset, tmp_path):
    import json
    config = tmp_path / 'keep_all.py'  # the exported model keeps every score
    config.write_text(f"_base_ = ['{osp.abspath(RETINANET)}']\n"
                      "model = dict(test_cfg=dict(score_thr=0.0))\n")
    result = call_tool(['tools/infer.py', config, exported[RETINANET]['onnx'],
                        val_images(dataset)[0], '--out-dir', tmp_path / 'out', '--runtime',
                        'openvino',
                        '--score-thr', '0'])
    assert result.returncode == 0, result.stderr
    preds = list((tmp_path / 'out' / 'preds').glob('*.json'))
    assert len(preds) == 1 and len(list((tmp_path / 'out' / 'vis').iterdir())) == 1
    detections = json.loads(preds[0].read_text())
    expected = OnnxDetector(exported[RETINANET]['onnx'], threads=1)(
        val_images(dataset)[:1])[0].pred_instances
    assert len(detections['bboxes']) == len(expected.bboxes) > 0
    np.testing.assert_allclose(detections['bboxes'], expected.bboxes.numpy(), atol=1e-2)
