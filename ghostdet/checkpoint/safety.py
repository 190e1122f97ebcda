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

MMEngine loads ``http(s)://`` checkpoints (and ``open-mmlab://``,
``torchvision://``, ``mmcls://``, which resolve to URLs) through
``torch.hub.load_state_dict_from_url``, whose default is *not* weights-only:
a checkpoint from the internet could run code. Its one entry point,
``mmengine.runner.checkpoint.load_url``, is replaced by a weights-only call;
local files (``--resume``, ``load_from``, ``tools/test.py``) get a loader that
is weights-only whatever torch's default, and both turn a refused, truncated
or missing file into a :class:`~ghostdet.errors.CheckpointError` naming it.
This is the only place ghostdet changes MMEngine's checkpoint loading; tests
fail if MMEngine stops routing checkpoints through these names.
"""
import os.path as osp

import numpy as np
import torch
import torch.hub

from ..errors import CheckpointNotFoundError
from .files import named_load_errors


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


def load_url_weights_only(url, model_dir=None, map_location=None, progress=True,
                          check_hash=False, file_name=None):
    """``torch.hub.load_state_dict_from_url`` with ``weights_only=True``, in
    the signature of MMEngine's ``load_url``, raising a
    :class:`~ghostdet.errors.CheckpointError` that names the URL."""
    with named_load_errors(url):
        return torch.hub.load_state_dict_from_url(
            url, model_dir=model_dir, map_location=map_location, progress=progress,
            check_hash=check_hash, file_name=file_name, weights_only=True)


def load_from_local_weights_only(filename, map_location=None):
    """MMEngine's local checkpoint loader, weights-only whatever torch's
    default, raising a :class:`~ghostdet.errors.CheckpointError` that names
    the file."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise CheckpointNotFoundError(f'checkpoint not found: {filename}')
    with named_load_errors(filename):
        return torch.load(filename, map_location=map_location, weights_only=True)


def allow_mmengine_checkpoints():
    """Make MMEngine checkpoints loadable with ``weights_only=True``, and
    make MMEngine load local and URL checkpoints weights-only.

    Allow-lists their data types and makes ``HistoryBuffer`` pickle as data
    only. Does nothing to loading on torch versions without
    ``torch.serialization.add_safe_globals``.
    """
    import mmengine.runner.checkpoint as mmengine_checkpoint
    from mmengine.logging import HistoryBuffer
    HistoryBuffer.__getstate__ = _history_buffer_state
    mmengine_checkpoint.load_url = load_url_weights_only
    mmengine_checkpoint.CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local_weights_only, force=True)
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is not None:
        add_safe_globals(mmengine_safe_globals())
