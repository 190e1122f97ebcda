"""Training that loses nothing on a fault: exact resume
(:class:`ResumableEpochBasedTrainLoop`), checkpoints that survive a kill or a
full disk (:class:`SafeCheckpointHook`), a stop at the first non-finite loss
(:class:`FiniteLossHook`), bad images skipped and counted, and ``--resume``
that never starts silently from scratch (:func:`find_resumable_checkpoint`).
Importing this package registers them with MMEngine."""
from .hooks import FiniteLossHook, SafeCheckpointHook
from .loop import ResumableEpochBasedTrainLoop
from .resume import find_resumable_checkpoint, is_complete_checkpoint
from .samples import ResumableBatchSampler, SampleGuard, SampleKey

__all__ = [
    'FiniteLossHook', 'ResumableBatchSampler', 'ResumableEpochBasedTrainLoop',
    'SafeCheckpointHook', 'SampleGuard', 'SampleKey', 'find_resumable_checkpoint',
    'is_complete_checkpoint'
]
