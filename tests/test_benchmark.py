"""The benchmark's quick mode runs a backbone and a detector on every backend and
writes its table, CSV, JSON and plots; ratios are against the GhostNet model of
the same kind and against eager; bad options are named."""
import csv
import json
import os.path as osp

import numpy as np
import pytest

from conftest import run_tool
from ghostdet.benchmark import available_backends, format_table, run_benchmark, write_outputs
from ghostdet.benchmark import run as run_module
from ghostdet.benchmark.backends import _stage_of_node
from ghostdet.benchmark.report import plot_latency
from ghostdet.benchmark.run import _add_ratios
from ghostdet.errors import InputError

# One backbone and one detector (issue #13 item 4: the quick benchmark on two
# models). Both are their own GhostNet reference, so the ratio logic against
# another model is proven on rows made by hand (test_ratio_of_a_peer...).
BACKBONE, DETECTOR = 'ghostnet', 'retinanet_ghostnet_small'
MODELS = [BACKBONE, DETECTOR]


@pytest.fixture(scope='module')
def quick_result(tmp_path_factory):
    out = tmp_path_factory.mktemp('benchmark')
    result = run_benchmark(models=MODELS, quick=True, threads=1, work_dir=str(out / 'onnx'),
                           log=lambda line: None)
    return result, write_outputs(result, str(out))


def test_every_model_runs_on_every_backend(quick_result):
    result, _ = quick_result
    rows = {(r['model'], r['backend'], r['size']): r for r in result['rows']}
    expected = {(BACKBONE, b, '128') for b in available_backends()}
    expected |= {(DETECTOR, b, '128') for b in available_backends()}
    assert set(rows) == expected
    # openvino is pinned and installed by make test; bf16 where the CPU has it.
    assert {'eager', 'fused', 'ort', 'ort_int8', 'openvino', 'openvino_int8'} <= set(
        available_backends())
    for key, row in rows.items():
        assert 0 < row['median_ms'] <= row['p90_ms'], key
        assert row['images_per_s'] > 0 and row['batch'] == 2, key
        assert row['macs'] > 1e6 and row['peak_mib'] is not None, key
        assert row['threads'] == 1


def test_ratios_are_against_ghostnet_and_eager(quick_result):
    result, _ = quick_result
    rows = {(r['model'], r['backend'], r['size']): r for r in result['rows']}
    for (model, backend, size), row in rows.items():
        # Each is the GhostNet model of its kind: its own reference, on the
        # same backend and size (another backend's or size's median would
        # not give exactly 1: medians differ from row to row).
        assert row['reference'] == model
        assert row['vs_ghostnet'] == 1.0, (model, backend, size)
        assert row['vs_eager'] == pytest.approx(
            rows[(model, 'eager', size)]['median_ms'] / row['median_ms'], rel=1e-2)
        if backend == 'eager':
            assert row['vs_eager'] == 1.0
        assert row['vs_ort'] == pytest.approx(
            rows[(model, 'ort', size)]['median_ms'] / row['median_ms'], rel=1e-2)
    assert len({row['median_ms'] for row in rows.values()}) > 1


def test_ratio_of_a_peer_is_its_latency_over_ghostnets():
    def row(model, backend, size, median, reference='ghostnet'):
        return dict(model=model, backend=backend, size=size, median_ms=median,
                    reference=reference)
    rows = [row('ghostnet', 'eager', '128', 20.0), row('ghostnet', 'ort', '128', 4.0),
            row('ghostnet', 'ort', '96', 3.0), row('mobilenetv3', 'eager', '128', 30.0),
            row('mobilenetv3', 'ort', '128', 5.0), row('mobilenetv3', 'ort', '96', 6.0),
            row('timm_ghostnet', 'eager', '640', 50.0),  # no reference at 640
            dict(model='mobilenetv3', backend='ort_int8', size='128', reference='ghostnet',
                 note='not run: ...')]
    _add_ratios(rows)
    index = {(r['model'], r['backend'], r['size']): r for r in rows}
    assert index[('mobilenetv3', 'ort', '128')]['vs_ghostnet'] == 1.25  # 5 / 4, not 5 / 20
    assert index[('mobilenetv3', 'ort', '96')]['vs_ghostnet'] == 2.0  # 6 / 3, not 6 / 4
    assert index[('mobilenetv3', 'eager', '128')]['vs_ghostnet'] == 1.5
    assert index[('ghostnet', 'ort', '128')]['vs_ghostnet'] == 1.0
    assert index[('mobilenetv3', 'ort', '128')]['vs_eager'] == 6.0  # 30 / 5: a speed-up
    assert index[('ghostnet', 'ort', '128')]['vs_eager'] == 5.0
    assert 'vs_eager' not in index[('mobilenetv3', 'ort', '96')]  # no eager run at 96
    assert 'vs_ghostnet' not in index[('timm_ghostnet', 'eager', '640')]
    assert 'vs_ghostnet' not in index[('mobilenetv3', 'ort_int8', '128')]


def test_each_runner_is_freed_before_the_next_batch_run(monkeypatch, tmp_path):
    """The batch-of-8 runs grow each runtime's memory: they go one runner at a
    time, each freed before the next (42 live runners at 800x1333 were killed
    for memory on a 24 GB machine)."""
    live, live_at_batch_runs = set(), []

    class Runner:
        note, stage_times = None, None

        def __init__(self, key):
            self.key = key
            live.add(key)

        def inputs(self, batch):
            return batch

        def run(self, batch):
            if batch > 1:
                live_at_batch_runs.append(len(live))

        def __del__(self):
            live.discard(self.key)

    monkeypatch.setattr(run_module, 'build_model', lambda spec: object())
    monkeypatch.setattr(run_module, '_macs', lambda spec, model, size: None)
    monkeypatch.setattr(run_module, 'prepare',
                        lambda spec, model, backend, size, **kwargs: Runner((spec.name, backend)))
    result = run_benchmark(models=['ghostnet', 'mobilenetv3'], backends=['eager', 'ort'],
                           sizes=['64'], threads=1, runs=2, warmup=0, batch_runs=1,
                           work_dir=str(tmp_path), log=lambda line: None)
    assert live_at_batch_runs == [4, 3, 2, 1]
    assert not live
    assert all(row['images_per_s'] > 0 for row in result['rows'])


def test_a_batch_model_is_calibrated_on_one_feed_of_every_image():
    """ONNX Runtime's calibrator keeps every feed's intermediate tensors: the
    batch-of-8 INT8 backbone gets the calibration images in one feed (four
    feeds of eight copies each took 14 GB at 800x1333), the batch-1 model one
    feed per image, and both see the same images."""
    from ghostdet.benchmark.backends import _calibration_feeds
    from ghostdet.benchmark.models import select_models
    spec, = select_models([BACKBONE])
    single = _calibration_feeds(spec, (64, 96), None, 1)
    batched = _calibration_feeds(spec, (64, 96), None, 8)
    assert [feed['input'].shape for feed in single] == [(1, 3, 64, 96)] * 4
    assert [feed['input'].shape for feed in batched] == [(8, 3, 64, 96)]
    images = np.concatenate([feed['input'] for feed in single])
    assert np.array_equal(batched[0]['input'], np.concatenate([images, images]))


def test_detectors_have_their_stages(quick_result):
    result, _ = quick_result
    for row in result['rows']:
        if row['kind'] == 'detector' and not row['backend'].startswith('openvino'):
            stages = [row[f'{s}_ms'] for s in ('preprocess', 'backbone', 'neck_head',
                                                'postprocess')]
            assert all(value >= 0 for value in stages) and stages[1] > 0 and stages[2] > 0
        else:
            assert 'backbone_ms' not in row
    assert any(row['kind'] == 'detector' for row in result['rows'])


def test_two_stage_detector_nodes_have_their_stages():
    # Faster R-CNN is not in the quick run: its ONNX nodes' stages by name.
    assert _stage_of_node('/backbone/layer1/Conv', 'Conv') == 'backbone'
    for name, op_type in [('/neck/fpn_convs.0/Conv', 'Conv'), ('/rpn/rpn_conv/Conv', 'Conv'),
                          ('/roi/bbox_head/fc_cls/Gemm', 'Gemm'), ('RoiAlign_12', 'RoiAlign'),
                          ('/bbox_head/shared_fcs.0/Gemm', 'Gemm')]:  # as traced
        assert _stage_of_node(name, op_type) == 'neck_head'
    assert _stage_of_node('/NonMaxSuppression', 'NonMaxSuppression') == 'postprocess'


def test_outputs_are_written(quick_result):
    result, files = quick_result
    with open(files['csv']) as f:
        assert len(list(csv.DictReader(f))) == len(result['rows'])
    with open(files['json']) as f:
        assert json.load(f)['environment']['threads'] == 1
    table = format_table(result)
    for model in MODELS:
        assert model in table
    assert 'x GhostNet' in table and '1 threads' in table
    # The CPU and the instruction sets that decide the fastest runtime.
    flags = result['environment']['cpu_flags']
    assert set(flags) == {'avx2', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_bf16',
                          'amx_int8'}
    with open('/proc/cpuinfo') as f:
        assert flags['avx2'] == (' avx2 ' in f.read())
    assert 'avx512_vnni' in table and result['environment']['openvino']


def test_openvino_backends_follow_the_install_and_the_cpu(monkeypatch):
    import sys

    import ghostdet.deploy.runtime as runtime
    monkeypatch.setattr(runtime, 'openvino_supports_bf16', lambda: False)
    assert {'openvino', 'openvino_int8'} <= set(available_backends())
    assert not any(b.endswith('bf16') for b in available_backends())
    monkeypatch.setattr(runtime, 'openvino_supports_bf16', lambda: True)
    assert {'openvino_bf16', 'openvino_int8_bf16'} <= set(available_backends())
    monkeypatch.setitem(sys.modules, 'openvino', None)  # as if it were not installed
    assert not any(b.startswith('openvino') for b in available_backends())
    assert {'eager', 'ort', 'ort_int8'} <= set(available_backends())


def test_bad_options_are_named(tmp_path):
    with pytest.raises(InputError, match="unknown model 'resnet50'"):
        run_benchmark(models=['resnet50'])
    with pytest.raises(InputError, match='is not N or HxW'):
        run_benchmark(models=['ghostnet'], sizes=['big'])
    result = run_tool(['tools/benchmark.py', '--models', 'ghostnet', '--sizes', '640x',
                       '--out', str(tmp_path)])
    assert result.returncode == 1
    assert "error: size '640x' is not N or HxW" in result.stderr
    assert 'Traceback' not in result.stderr


def test_plots_draw_each_model_through_its_sizes(tmp_path):
    # The quick run measures one size per model: the plots get rows by hand.
    def row(model, backend, size, macs, median):
        return dict(model=model, label=model, kind='backbone', backend=backend, height=size,
                    width=size, macs=macs, median_ms=median)
    rows = [row(model, backend, size, macs * size ** 2, median * size ** 2)
            for model, macs, median in (('ghostnet', 10, 1e-3), ('mobilenetv3', 12, 8e-4))
            for backend in ('eager', 'ort') for size in (96, 128, 160)]
    rows.append(dict(row('ghostnet', 'ort_int8', 128, 1, 1), note='not run: ...'))
    del rows[-1]['median_ms']
    files = plot_latency(rows, str(tmp_path))
    assert set(files) == {'latency_vs_macs', 'latency_vs_size'}
    for path in files.values():
        assert osp.getsize(path) > 5000
    # Nothing to draw through one size.
    assert plot_latency([r for r in rows if r['height'] == 128], str(tmp_path / 'one')) == {}
