"""The benchmark's quick mode runs backbones and detectors on every backend and
writes its table, CSV, JSON and plots; bad options are named."""
import csv
import json
import os.path as osp

import pytest

from conftest import run_tool
from ghostdet.benchmark import available_backends, format_table, run_benchmark, write_outputs
from ghostdet.errors import InputError

MODELS = ['ghostnet', 'mobilenetv3', 'retinanet_ghostnet_small', 'faster_rcnn_ghostnet']


@pytest.fixture(scope='module')
def quick_result(tmp_path_factory):
    out = tmp_path_factory.mktemp('benchmark')
    result = run_benchmark(models=MODELS, quick=True, threads=1, work_dir=str(out / 'onnx'),
                           log=lambda line: None)
    return result, write_outputs(result, str(out))


def test_every_model_runs_on_every_backend(quick_result):
    result, _ = quick_result
    rows = {(r['model'], r['backend'], r['size']): r for r in result['rows']}
    expected = {(m, b, s) for m in MODELS[:2] for s in ('96', '128')
                for b in available_backends()}
    expected |= {(m, b, '128') for m in MODELS[2:] for b in available_backends()}
    assert set(rows) == expected
    for key, row in rows.items():
        assert 0 < row['median_ms'] <= row['p90_ms'], key
        assert row['images_per_s'] > 0 and row['batch'] == 2, key
        assert row['macs'] > 1e6 and row['peak_mib'] is not None, key
        assert row['threads'] == 1


def test_ratios_are_against_ghostnet_and_eager(quick_result):
    result, _ = quick_result
    rows = {(r['model'], r['backend'], r['size']): r for r in result['rows']}
    for (model, backend, size), row in rows.items():
        reference = rows[(row['reference'], backend, size)]
        assert row['vs_ghostnet'] == pytest.approx(row['median_ms'] / reference['median_ms'],
                                                   rel=1e-2)
        assert row['vs_eager'] == pytest.approx(
            rows[(model, 'eager', size)]['median_ms'] / row['median_ms'], rel=1e-2)
    assert rows[('ghostnet', 'ort', '128')]['vs_ghostnet'] == 1.0


def test_detectors_have_their_stages(quick_result):
    result, _ = quick_result
    for row in result['rows']:
        if row['kind'] == 'detector':
            stages = [row[f'{s}_ms'] for s in ('preprocess', 'backbone', 'neck_head',
                                                'postprocess')]
            assert all(value >= 0 for value in stages) and stages[1] > 0 and stages[2] > 0
        else:
            assert 'backbone_ms' not in row


def test_outputs_are_written(quick_result):
    result, files = quick_result
    with open(files['csv']) as f:
        assert len(list(csv.DictReader(f))) == len(result['rows'])
    with open(files['json']) as f:
        assert json.load(f)['environment']['threads'] == 1
    for plot in ('latency_vs_macs', 'latency_vs_size'):
        assert osp.getsize(files[plot]) > 5000
    table = format_table(result)
    for model in MODELS:
        assert model in table
    assert 'x GhostNet' in table and '1 threads' in table


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
