import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

import ghostdet  # noqa: F401  (allow-lists MMEngine's checkpoint types)


class NotAllowed:
    """Stands for an arbitrary class that a malicious checkpoint could name."""


def test_mmengine_types_load_with_weights_only(tmp_path):
    buffer = HistoryBuffer()
    buffer.update(np.float64(0.5))
    buffer.update(1.5)
    checkpoint = dict(
        state_dict={'w': torch.ones(2)},
        message_hub=dict(log_scalars={'train/loss': buffer},
                         runtime_info={'iter': np.int64(7), 'lr': np.float32(0.1),
                                       'arr': np.arange(3)}))
    path = tmp_path / 'ckpt.pth'
    torch.save(checkpoint, path)
    loaded = torch.load(path, weights_only=True)
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))
    assert isinstance(loaded['message_hub']['log_scalars']['train/loss'], HistoryBuffer)
    assert loaded['message_hub']['log_scalars']['train/loss'].mean() == pytest.approx(1.0)
    assert loaded['message_hub']['runtime_info']['iter'] == 7
    np.testing.assert_array_equal(loaded['message_hub']['runtime_info']['arr'], np.arange(3))


def test_statistics_still_work_after_loading(tmp_path):
    buffer = HistoryBuffer()
    for value in (1.0, 2.0, 6.0):
        buffer.update(value)
    torch.save({'hub': buffer}, tmp_path / 'b.pth')
    loaded = torch.load(tmp_path / 'b.pth', weights_only=True)['hub']
    assert loaded.statistics('mean') == pytest.approx(3.0)
    assert loaded.statistics('max') == 6.0
    assert loaded.statistics('current') == 6.0


def test_getattr_stays_refused(tmp_path):
    # A function attribute is pickled as a call of getattr, a classic escape.
    torch.save({'fn': HistoryBuffer.mean}, tmp_path / 'fn.pth')
    with pytest.raises(pickle.UnpicklingError, match='getattr'):
        torch.load(tmp_path / 'fn.pth', weights_only=True)


def test_other_types_are_still_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'payload': NotAllowed()}, path)
    with pytest.raises(pickle.UnpicklingError, match='NotAllowed'):
        torch.load(path, weights_only=True)
