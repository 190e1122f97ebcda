"""Convert GhostNet ImageNet checkpoints (official, timm, MMPretrain) to the
MMDetection form: ``{'state_dict': {'backbone.<key>': tensor}, 'meta': ...}``."""
import os.path as osp
from collections import OrderedDict
from typing import Dict, Optional, Tuple

import torch

from ..errors import InputError, OutputExistsError, PretrainedMismatchError
from .files import save_checkpoint_file
from .pretrained import backbone_state_dict, check_fits, checkpoint_state_dict
from .safety import load_checkpoint_file

# Widths tried, after the named ones, when a checkpoint's channels match none
# of those: any width whose channels match builds the same network.
_WIDTH_GRID = tuple(round(0.05 * step, 2) for step in range(2, 61))


def _ghostnet():
    # Imported here: ghostdet.models imports this package for strict loading.
    from ..models import GhostNet
    return GhostNet


def _ghost_channels(state: Dict[str, torch.Tensor], key: str) -> Optional[int]:
    """Channels of a Ghost module whose key prefix is ``key``: its primary
    conv makes ``ceil(out / 2)`` maps, so (channels being even) twice that."""
    weight = state.get(f'{key}.primary_conv.0.weight')
    return None if weight is None else 2 * weight.shape[0]


def channel_signature(state: Dict[str, torch.Tensor]) -> Tuple[Optional[int], ...]:
    """The stem's and every bottleneck's (expanded, output) channels found in
    a GhostNet state dict, in order; ``None`` where a tensor is absent."""
    stem = state.get('conv_stem.weight')
    signature = [None if stem is None else stem.shape[0]]
    for group_index, group in enumerate(_ghostnet().arch_settings):
        for block_index in range(len(group)):
            key = f'blocks.{group_index}.{block_index}'
            signature += [_ghost_channels(state, f'{key}.ghost1'),
                          _ghost_channels(state, f'{key}.ghost2')]
    return tuple(signature)


def expected_signature(widen_factor: float) -> Tuple[int, ...]:
    """What :func:`channel_signature` gives for a GhostNet of this width."""
    from ..models import make_divisible
    net = _ghostnet()
    signature = [make_divisible(net.stem_channels * widen_factor, 4)]
    for group in net.arch_settings:
        for _, mid, out, _, _ in group:
            signature += [make_divisible(mid * widen_factor, 4),
                          make_divisible(out * widen_factor, 4)]
    return tuple(signature)


def infer_widen_factor(state: Dict[str, torch.Tensor]) -> float:
    """The width of a GhostNet state dict, read from its tensor shapes: a
    named width (0.5/1.0/1.1/1.3) if its channels match, else the smallest
    width on a 0.05 grid up to 3.0 that matches.

    Raises:
        PretrainedMismatchError: The state dict is no GhostNet trunk.
    """
    found = channel_signature(state)
    if None in found:
        raise PretrainedMismatchError(
            f'the checkpoint is not a GhostNet: it lacks '
            f'{"conv_stem.weight" if found[0] is None else "some blocks.* ghost modules"}')
    for width in _ghostnet().named_widths + _WIDTH_GRID:
        if expected_signature(width) == found:
            return width
    raise PretrainedMismatchError(
        'the checkpoint is not a GhostNet of any width from 0.1 to 3.0: its channel counts '
        'fit none; give the width with --widen-factor if it is a GhostNet of another width')


def convert_to_mmdet(src: str,
                     dst: str,
                     *,
                     widen_factor: Optional[float] = None,
                     overwrite: bool = False) -> dict:
    """Write the GhostNet backbone of ``src`` to ``dst`` in MMDetection form.

    Args:
        src (str): Official (``state_dict_73.98.pth``), timm or MMPretrain
            GhostNet checkpoint; loaded weights-only.
        dst (str): Output file; load it with ``init_cfg=dict(type='Pretrained',
            checkpoint=dst)``. Written atomically.
        widen_factor (float, optional): Width of the checkpoint. Default:
            read from its tensor shapes (:func:`infer_widen_factor`).
        overwrite (bool): Replace an existing ``dst``. Default: False.

    Returns:
        dict: ``widen_factor``, ``num_tensors`` written and ``dropped`` keys
        (classifier head and other non-backbone tensors).

    Raises:
        OutputExistsError: ``dst`` exists and ``overwrite`` is False.
        InputError: ``dst`` is ``src``.
        CheckpointError: ``src`` is missing, unreadable or unsafe.
        PretrainedMismatchError: ``src`` is not a GhostNet of that width.
    """
    if osp.exists(dst) and osp.exists(src) and osp.samefile(src, dst):
        raise InputError('source and destination are the same file')
    if osp.exists(dst) and not overwrite:
        raise OutputExistsError(f'{dst} exists; pass --overwrite to replace it')
    try:
        state = backbone_state_dict(checkpoint_state_dict(load_checkpoint_file(src)))
    except PretrainedMismatchError as error:
        raise PretrainedMismatchError(f'{src}: {error}') from None
    width = infer_widen_factor(state) if widen_factor is None else widen_factor
    with_final = any(k.startswith('blocks.9.') for k in state)
    model = _ghostnet()(width, out_indices=(4, ) if with_final else (3, ))
    check_fits(model, state, src)
    kept = [k for k in model.state_dict() if k in state]
    converted = OrderedDict((f'backbone.{k}', state[k].clone()) for k in kept)
    meta = dict(source=osp.basename(src), widen_factor=width, converted_by=__name__)
    save_checkpoint_file(dict(state_dict=converted, meta=meta), dst)
    return dict(widen_factor=width, num_tensors=len(kept),
                dropped=sorted(set(state) - set(kept)))

