"""Wrong arguments to the train/test tools are clear errors, before any work."""
import pytest
import torch
from mmengine.config import Config

from conftest import run_tool
from ghostdet.errors import CheckpointNotFoundError, InputError
from ghostdet.runner import load_config, prepare_train_config
from ghostdet.runner import test as run_test

CONFIG = 'configs/retinanet_ghostnet_small.py'


def test_missing_config():
    with pytest.raises(InputError, match='config file not found: nope.py'):
        load_config('nope.py')


def test_missing_resume_checkpoint(tmp_path):
    cfg = load_config(CONFIG)
    with pytest.raises(CheckpointNotFoundError, match='--resume checkpoint not found'):
        prepare_train_config(cfg, resume=str(tmp_path / 'gone.pth'))


def test_amp_needs_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(InputError, match='--amp needs a CUDA device'):
        prepare_train_config(load_config(CONFIG), amp=True)


def test_auto_scale_lr_needs_base_batch_size():
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper')))
    with pytest.raises(InputError, match='base_batch_size'):
        prepare_train_config(cfg, auto_scale_lr=True)


def test_test_rejects_missing_checkpoint_and_bad_out(tmp_path):
    with pytest.raises(CheckpointNotFoundError, match='checkpoint not found'):
        run_test(CONFIG, str(tmp_path / 'gone.pth'))
    checkpoint = tmp_path / 'c.pth'
    checkpoint.write_bytes(b'')
    with pytest.raises(InputError, match=r'--out must be a \.pkl'):
        run_test(CONFIG, str(checkpoint), out=str(tmp_path / 'preds.json'))


def test_tool_prints_input_errors_without_traceback(tmp_path):
    result = run_tool(['tools/test.py', CONFIG, str(tmp_path / 'gone.pth')])
    assert result.returncode == 1
    assert 'error: checkpoint not found' in result.stderr
    assert 'Traceback' not in result.stderr
