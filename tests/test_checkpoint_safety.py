"""MMEngine's checkpoints load weights-only through ghostdet's loaders, which
allow MMEngine's data types for one load only and refuse everything else."""
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

from ghostdet.checkpoint import load_checkpoint_file
from ghostdet.engine.hooks import SafeCheckpointHook
from ghostdet.errors import CheckpointError


class NotAllowed:
    """Stands for an arbitrary class that a malicious checkpoint could name."""


def hub_checkpoint(values=(0.5, 1.5)):
    """A checkpoint dict as MMEngine's runner builds it, after
    ``SafeCheckpointHook.before_save_checkpoint``."""
    buffer = HistoryBuffer()
    for value in values:
        buffer.update(np.float64(value))
    checkpoint = dict(
        state_dict={'w': torch.ones(2)},
        message_hub=dict(log_scalars={'train/loss': buffer},
                         runtime_info={'iter': np.int64(7), 'lr': np.float32(0.1),
                                       'arr': np.arange(3)}))
    SafeCheckpointHook.before_save_checkpoint(SafeCheckpointHook(), None, checkpoint)
    return checkpoint


def test_mmengine_types_load_with_weights_only(tmp_path):
    path = tmp_path / 'ckpt.pth'
    torch.save(hub_checkpoint(), path)
    loaded = load_checkpoint_file(str(path))
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))
    assert isinstance(loaded['message_hub']['log_scalars']['train/loss'], HistoryBuffer)
    assert loaded['message_hub']['log_scalars']['train/loss'].mean() == pytest.approx(1.0)
    assert loaded['message_hub']['runtime_info']['iter'] == 7
    np.testing.assert_array_equal(loaded['message_hub']['runtime_info']['arr'], np.arange(3))
    # Allowed for that load only: torch's own list is left as it was.
    assert HistoryBuffer not in torch.serialization.get_safe_globals()
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        torch.load(path, weights_only=True)


def test_statistics_still_work_after_loading(tmp_path):
    torch.save(hub_checkpoint((1.0, 2.0, 6.0)), tmp_path / 'b.pth')
    loaded = load_checkpoint_file(str(tmp_path / 'b.pth'))['message_hub']['log_scalars']
    buffer = loaded['train/loss']
    assert buffer.statistics('mean') == pytest.approx(3.0)
    assert buffer.statistics('max') == 6.0
    assert buffer.statistics('current') == 6.0


def test_mmengines_own_pickling_of_a_buffer_stays_refused(tmp_path):
    # MMEngine pickles a buffer's statistics functions as calls of getattr, a
    # classic escape: a buffer not written by SafeCheckpointHook is refused.
    torch.save({'hub': HistoryBuffer([1.0], [1])}, tmp_path / 'fn.pth')
    with pytest.raises(CheckpointError, match='getattr'):
        load_checkpoint_file(str(tmp_path / 'fn.pth'))


def test_other_types_are_still_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'payload': NotAllowed()}, path)
    with pytest.raises(CheckpointError, match='NotAllowed'):
        load_checkpoint_file(str(path))
