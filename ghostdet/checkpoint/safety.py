"""Weights-only loading of every checkpoint MMEngine reads, switched on by name.

Since torch 2.6 ``torch.load`` defaults to ``weights_only=True``, which only
unpickles tensors, containers and allow-listed types. MMEngine 0.10.7 stores a
few other types in its checkpoints (the message hub's ``HistoryBuffer`` and
numpy scalars and arrays), so ``--resume``, ``load_from`` and ``tools/test.py``
fail with ``UnpicklingError: Unsupported global``. Turning the check off
(``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``) would let a checkpoint run arbitrary
code; instead ghostdet's loaders allow these plain data types for the length of
one load (``torch.serialization.safe_globals``), leaving torch's process-wide
list alone. ``HistoryBuffer`` pickles its registry of statistics functions as
calls of ``getattr``; :class:`~ghostdet.engine.SafeCheckpointHook` writes each
buffer as a call of its constructor instead, so ghostdet's checkpoints need no
``getattr``. ImageNet training checkpoints written by timm's ``train.py`` (the
official RepGhostNet ones) hold their command line as an ``argparse.Namespace``,
plain data too, and allowed the same way. ``.safetensors`` files (timm's
published weights) hold tensors only and are read with ``safetensors``, no
pickle at all.

MMEngine loads ``http(s)://`` checkpoints (and ``open-mmlab://``,
``torchvision://``, ``mmcls://``, which resolve to URLs) through
``torch.hub.load_state_dict_from_url``, whose default is *not* weights-only.
:func:`load_checkpoints_weights_only` registers weights-only loaders for the
local, URL and named schemes with MMEngine's ``CheckpointLoader`` (its own
extension point), which then turn a refused, truncated or missing file into a
:class:`~ghostdet.errors.CheckpointError` naming it. Nothing calls it on
``import ghostdet``: ghostdet's tools call it at start-up, and a config switches
it on by listing :mod:`ghostdet.weights_only` in ``custom_imports``.
"""
import argparse
import os
import os.path as osp
from typing import Any
from urllib.parse import urlparse

import numpy as np
import torch
import torch.hub

from ..errors import CheckpointError, CheckpointNotFoundError
from .files import is_remote, named_load_errors, unreadable_checkpoint_message

URL_PREFIXES = ('http://', 'https://')
NAMED_PREFIXES = ('torchvision://', 'modelzoo://', 'open-mmlab://', 'openmmlab://', 'mmcls://')


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


def mmengine_safe_globals() -> list:
    """Return the types MMEngine checkpoints hold besides tensors and containers."""
    from mmengine.logging import HistoryBuffer
    return [HistoryBuffer, argparse.Namespace, *_numpy_globals()]


def is_safetensors(filename: str) -> bool:
    """Whether a path or URL names a ``.safetensors`` file."""
    return urlparse(str(filename)).path.endswith('.safetensors')


def load_safetensors(filename: str, map_location: Any = None) -> dict:
    """Read a local ``.safetensors`` file (tensors only; no pickle), raising
    a :class:`~ghostdet.errors.CheckpointError` that names the file."""
    from safetensors.torch import load_file
    device = map_location if isinstance(map_location, (str, torch.device)) else 'cpu'
    try:
        return load_file(filename, device=str(device))
    except Exception as error:  # safetensors raises its own SafetensorError
        raise CheckpointError(unreadable_checkpoint_message(filename, error)) from None


def url_cache_name(url: str) -> str:
    """The file name a download is cached under (in torch.hub's
    ``checkpoints`` directory): the URL's base name, with the repository
    before it for Hugging Face Hub URLs, whose base names are the same for
    every model (``model.safetensors``, ``pytorch_model.bin``)."""
    path = urlparse(url).path
    name = osp.basename(path)
    parts = [part for part in path.split('/') if part]
    if 'resolve' in parts:  # https://huggingface.co/OWNER/REPO/resolve/REVISION/FILE
        resolve = parts.index('resolve')
        name = '--'.join(parts[max(resolve - 2, 0):resolve] + [name])
    return name


def load_from_local_weights_only(filename: str, map_location: Any = None) -> Any:
    """Load a local checkpoint weights-only (with MMEngine's data types
    allowed for this load only), raising a
    :class:`~ghostdet.errors.CheckpointError` that names the file."""
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise CheckpointNotFoundError(f'checkpoint not found: {filename}')
    if is_safetensors(filename):
        return load_safetensors(filename, map_location)
    with named_load_errors(filename), torch.serialization.safe_globals(mmengine_safe_globals()):
        return torch.load(filename, map_location=map_location, weights_only=True)


def load_from_url_weights_only(url: str, map_location: Any = None) -> Any:
    """``torch.hub.load_state_dict_from_url`` with ``weights_only=True``
    (a ``.safetensors`` URL: downloaded, then read without pickle), cached
    as :func:`url_cache_name`, raising a
    :class:`~ghostdet.errors.CheckpointError` that names the URL. As
    MMEngine's URL loader, rank 0 downloads before the other ranks read the
    cached file."""
    from mmengine.dist import get_dist_info
    file_name = url_cache_name(url)

    def load():
        if is_safetensors(url):
            cached = osp.join(torch.hub.get_dir(), 'checkpoints', file_name)
            if not osp.isfile(cached):
                os.makedirs(osp.dirname(cached), exist_ok=True)
                with named_load_errors(url):
                    torch.hub.download_url_to_file(url, cached)
            return load_safetensors(cached, map_location)
        with named_load_errors(url), torch.serialization.safe_globals(mmengine_safe_globals()):
            return torch.hub.load_state_dict_from_url(url, map_location=map_location,
                                                      weights_only=True, file_name=file_name)

    rank, world_size = get_dist_info()
    checkpoint = load() if rank == 0 else None
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            checkpoint = load()
    return checkpoint


def load_from_named_weights_only(filename: str, map_location: Any = None) -> Any:
    """Load ``torchvision://``, ``open-mmlab://`` or ``mmcls://`` checkpoints
    weights-only, resolving their names through MMEngine's own tables."""
    from mmengine.runner import checkpoint as mmengine_checkpoint
    scheme, name = filename.split('://', 1)
    if scheme in ('torchvision', 'modelzoo'):
        return load_from_url_weights_only(mmengine_checkpoint.get_torchvision_models()[name],
                                          map_location)
    if scheme == 'mmcls':
        return mmengine_checkpoint._process_mmcls_checkpoint(load_from_url_weights_only(
            mmengine_checkpoint.get_mmcls_models()[name], map_location))
    name = mmengine_checkpoint.get_deprecated_model_names().get(name, name)
    location = mmengine_checkpoint.get_external_models()[name]
    if location.startswith(URL_PREFIXES):
        return load_from_url_weights_only(location, map_location)
    return load_from_local_weights_only(
        osp.join(mmengine_checkpoint._get_mmengine_home(), location), map_location)


# ghostdet's loader for each remote prefix: what load_checkpoint_file uses and
# what load_checkpoints_weights_only registers with MMEngine.
_REMOTE_LOADERS = ((URL_PREFIXES, load_from_url_weights_only),
                   (NAMED_PREFIXES, load_from_named_weights_only))


def load_checkpoint_file(filename: str, *, map_location: Any = 'cpu') -> Any:
    """Load a checkpoint from a path, a URL or an MMEngine scheme,
    weights-only, whether or not :func:`load_checkpoints_weights_only` was
    called. Every ghostdet load goes through here.

    Args:
        filename (str): Path, URL or MMEngine scheme of the checkpoint.
        map_location: Where to put the tensors. Default: 'cpu'.

    Returns:
        The unpickled checkpoint (usually a dict).

    Raises:
        CheckpointNotFoundError: The file is missing or cannot be
            downloaded.
        CheckpointError: It is not a readable PyTorch file, or it holds
            objects weights-only loading refuses (a pickle that could run
            code).
    """
    filename = str(filename)
    if not is_remote(filename):
        return load_from_local_weights_only(filename, map_location)
    for prefixes, loader in _REMOTE_LOADERS:
        if filename.startswith(prefixes):
            return loader(filename, map_location)
    from mmengine.runner.checkpoint import CheckpointLoader  # s3://, pavi://, ...
    with named_load_errors(filename), torch.serialization.safe_globals(mmengine_safe_globals()):
        return CheckpointLoader.load_checkpoint(filename, map_location=map_location)


def load_checkpoints_weights_only() -> None:
    """Make MMEngine load local, URL and named-scheme checkpoints weights-only,
    with errors that name the file.

    Registers ghostdet's loaders for those prefixes with MMEngine's
    ``CheckpointLoader`` for the rest of the process. Called by ghostdet's
    tools at start-up, and by importing :mod:`ghostdet.weights_only` (which a
    config lists in ``custom_imports`` to opt in). Idempotent.
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    for prefixes, loader in ((('', ), load_from_local_weights_only), *_REMOTE_LOADERS):
        CheckpointLoader.register_scheme(prefixes=list(prefixes), loader=loader, force=True)
