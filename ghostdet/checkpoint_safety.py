"""Keep ``torch.load(weights_only=True)`` working for MMEngine checkpoints.

Since torch 2.6 ``torch.load`` defaults to ``weights_only=True``, which only
unpickles tensors, containers and allow-listed types. MMEngine 0.10.7 stores a
few other types in its checkpoints (the message hub's ``HistoryBuffer`` and
numpy scalars and arrays), so ``--resume``, ``load_from`` and
``tools/test.py`` fail with ``UnpicklingError: Unsupported global``. Turning
the check off (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``) would let a checkpoint
run arbitrary code; instead these plain data types are allow-listed.

``HistoryBuffer`` also pickles its registry of statistics functions, which
pickle protocol 2 writes as calls of ``getattr``; allowing ``getattr`` would
open the door again, so the registry (rebuilt by MMEngine on import anyway) is
left out of the pickled state instead. Checkpoints saved by MMEngine without
``ghostdet`` imported therefore still need a trusted ``weights_only=False``.
"""
import numpy as np
import torch


def _numpy_globals():
    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    dtype_classes = [type(np.dtype(name)) for name in (
        'bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64',
        'float16', 'float32', 'float64', 'complex64', 'complex128', 'str', 'bytes')]
    safe = [multiarray.scalar, multiarray._reconstruct, np.ndarray, np.dtype, *dtype_classes]
    # Checkpoints written under numpy 1.x name ``numpy.core`` instead of ``numpy._core``.
    safe += [(multiarray.scalar, 'numpy.core.multiarray.scalar'),
             (multiarray._reconstruct, 'numpy.core.multiarray._reconstruct')]
    return safe


def mmengine_safe_globals():
    """Return the types MMEngine checkpoints hold besides tensors and containers."""
    from mmengine.logging import HistoryBuffer
    return [HistoryBuffer, *_numpy_globals()]


def _history_buffer_state(buffer):
    """``HistoryBuffer.__getstate__`` without the statistics functions."""
    state = dict(buffer.__dict__)
    state.pop('statistics_methods', None)
    return state


def allow_mmengine_checkpoints():
    """Make MMEngine checkpoints loadable with ``weights_only=True``.

    Allow-lists their data types and makes ``HistoryBuffer`` pickle as data
    only. Does nothing to loading on torch versions without
    ``torch.serialization.add_safe_globals``.
    """
    from mmengine.logging import HistoryBuffer
    HistoryBuffer.__getstate__ = _history_buffer_state
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is not None:
        add_safe_globals(mmengine_safe_globals())
