"""Convert GhostNet ImageNet checkpoints (official, timm, MMPretrain) to the
MMDetection form: ``{'state_dict': {'backbone.<key>': tensor}, 'meta': ...}``."""
import os
import os.path as osp
import tempfile
from collections import OrderedDict

import torch
from mmengine.runner.checkpoint import CheckpointLoader

from .models import GhostNet
from .models.pretrained import (PretrainedMismatchError, backbone_state_dict,
                                checkpoint_state_dict, state_dict_mismatches)

NAMED_WIDTHS = (0.5, 1.0, 1.1, 1.3)


def _trunk(width, state):
    with_final = any(k.startswith('blocks.9.') for k in state)
    return GhostNet(width, out_indices=(4, ) if with_final else (3, ))


def infer_widen_factor(state):
    """Return the named GhostNet width whose every tensor fits ``state``."""
    for width in NAMED_WIDTHS:
        missing, wrong_shape = state_dict_mismatches(_trunk(width, state), state)
        if not missing and not wrong_shape:
            return width
    raise PretrainedMismatchError(
        f'the checkpoint is not a GhostNet of a named width {NAMED_WIDTHS}: give the width '
        f'with --widen-factor if it is a GhostNet of another width')


def convert_to_mmdet(src, dst, widen_factor=None, overwrite=False):
    """Write the GhostNet backbone of ``src`` to ``dst`` in MMDetection form.

    Args:
        src (str): Official (``state_dict_73.98.pth``), timm or MMPretrain
            GhostNet checkpoint.
        dst (str): Output file; load it with ``init_cfg=dict(type='Pretrained',
            checkpoint=dst)``.
        widen_factor (float, optional): Width of the checkpoint. Default:
            inferred among 0.5/1.0/1.1/1.3.
        overwrite (bool): Replace an existing ``dst``. Default: False.

    Returns:
        dict: ``widen_factor``, ``num_tensors`` written and ``dropped`` keys
        (classifier head and other non-backbone tensors).
    """
    if osp.exists(dst) and not overwrite:
        raise FileExistsError(f'{dst} exists; pass --overwrite to replace it')
    if osp.exists(dst) and osp.samefile(src, dst):
        raise ValueError('source and destination are the same file')
    state = backbone_state_dict(checkpoint_state_dict(
        CheckpointLoader.load_checkpoint(src, map_location='cpu')))
    width = infer_widen_factor(state) if widen_factor is None else widen_factor
    model = _trunk(width, state)
    missing, wrong_shape = state_dict_mismatches(model, state)
    if missing or wrong_shape:
        first = (missing or [f'{k}: {c} vs {m}' for k, c, m in wrong_shape])[:5]
        raise PretrainedMismatchError(
            f'{src} does not fit GhostNet(widen_factor={width}): {len(missing)} missing and '
            f'{len(wrong_shape)} mis-shaped tensors, first: {first}')
    kept = list(model.state_dict())
    converted = OrderedDict((f'backbone.{k}', state[k].clone()) for k in kept)
    meta = dict(source=osp.basename(src), widen_factor=width, converted_by=__name__)
    out_dir = osp.dirname(osp.abspath(dst))
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=out_dir, suffix='.tmp', delete=False) as tmp:
        torch.save(dict(state_dict=converted, meta=meta), tmp)
    os.replace(tmp.name, dst)
    return dict(widen_factor=width, num_tensors=len(kept),
                dropped=sorted(set(state) - set(kept)))
