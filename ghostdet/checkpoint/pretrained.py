"""Strict loading of ImageNet checkpoints into backbones.

MMEngine's ``Pretrained`` initializer loads with ``strict=False`` and only
warns about keys that do not fit, so a checkpoint of the wrong width or model
silently leaves the backbone random. Here every parameter and buffer of the
backbone must be found in the checkpoint with the same shape, or loading
fails and names the first mismatches. The one exception is BatchNorm's
``num_batches_tracked`` counter, which older checkpoints lack and which
PyTorch's own ``load_state_dict`` fills in.

Accepted layouts: bare keys (the official GhostNet ``state_dict_73.98.pth``,
timm and torchvision state dicts, timm's ``.safetensors``; their classifier
keys are ignored), MMDetection/MMPretrain checkpoints whose backbone keys start
with ``backbone.``, either plain or under ``state_dict``/``model``/``module``,
and timm ``train.py`` checkpoints (the official RepGhostNet ones), whose EMA
weights under ``state_dict_ema`` are the published ones and are preferred to
``state_dict``.
"""
from collections import OrderedDict
from typing import Dict, List, NamedTuple, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log

from ..errors import CheckpointNotFoundError, InputError, PretrainedMismatchError
from .safety import load_checkpoint_file
from .zoo import GHOSTNET_1_1X_PRETRAIN

_SHOW = 5
_OPTIONAL_SUFFIX = 'num_batches_tracked'


def checkpoint_state_dict(checkpoint: dict) -> Dict[str, torch.Tensor]:
    """Return the tensor dict inside a loaded checkpoint (the EMA weights of
    a timm training checkpoint), without a DDP ``module.`` prefix."""
    state = checkpoint
    for key in ('state_dict_ema', 'state_dict', 'model', 'module'):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not any(torch.is_tensor(v) for v in state.values()):
        raise PretrainedMismatchError('the checkpoint holds no state dict of tensors')
    if all(k.startswith('module.') for k in state):
        state = OrderedDict((k[len('module.'):], v) for k, v in state.items())
    return state


def backbone_state_dict(state: Dict[str, torch.Tensor],
                        prefix: Optional[str] = None) -> Dict[str, torch.Tensor]:
    """Select the backbone's tensors of a state dict, without their prefix.

    Args:
        state (dict): A checkpoint's state dict.
        prefix (str, optional): Prefix of the backbone keys, e.g.
            ``'backbone.'``. Default: ``'backbone.'`` when any key has it,
            otherwise the keys are taken as they are.

    Returns:
        OrderedDict: The selected tensors.
    """
    if prefix is None and any(k.startswith('backbone.') for k in state):
        prefix = 'backbone.'
    if not prefix:
        return OrderedDict(state)
    if not prefix.endswith('.'):
        prefix += '.'
    selected = OrderedDict((k[len(prefix):], v) for k, v in state.items() if k.startswith(prefix))
    if not selected:
        raise PretrainedMismatchError(f'no key of the checkpoint starts with "{prefix}"')
    return selected


class Mismatches(NamedTuple):
    """How a state dict fails to fit a module.

    Attributes:
        missing (list[str]): Module keys the state dict lacks.
        wrong_shape (list[tuple]): ``(key, shape in the state dict, shape in
            the module)`` for keys present with another shape.
        total (int): Number of the module's parameters and buffers.
    """
    missing: List[str]
    wrong_shape: List[Tuple[str, tuple, tuple]]
    total: int

    def __bool__(self):
        return bool(self.missing or self.wrong_shape)


def find_mismatches(module: nn.Module, state: Dict[str, torch.Tensor]) -> Mismatches:
    """Compare a module's parameters and buffers with a state dict (extra
    keys in the state dict are not mismatches)."""
    own = module.state_dict()
    missing = [k for k in own if k not in state and not k.endswith(_OPTIONAL_SUFFIX)]
    wrong_shape = [(k, tuple(state[k].shape), tuple(v.shape)) for k, v in own.items()
                   if k in state and state[k].shape != v.shape]
    return Mismatches(missing, wrong_shape, len(own))


_PRETRAINED_HINT = ('Check that the checkpoint is of this model and width (the public ImageNet '
                    'weights and their widths are listed in ghostdet/checkpoint/zoo.py; for '
                    'GhostNet only 1.0x); detector checkpoints need prefix="backbone.".')


def mismatch_report(source: str,
                    target: str,
                    mismatches: Mismatches,
                    *,
                    hint: str = _PRETRAINED_HINT) -> str:
    """The message for a checkpoint that does not fit: how many tensors are
    missing or mis-shaped, the first of each, and ``hint`` (what to check)."""
    lines = [f'checkpoint {source} does not fit {target}: of its {mismatches.total} parameters '
             f'and buffers, {len(mismatches.missing)} are missing from the checkpoint and '
             f'{len(mismatches.wrong_shape)} are of another shape there.']
    lines += [f'  missing: {k}' for k in mismatches.missing[:_SHOW]]
    lines += [f'  shape: {k} is {c} in the checkpoint, {m} in the model'
              for k, c, m in mismatches.wrong_shape[:_SHOW]]
    lines.append(f'  {hint}')
    return '\n'.join(lines)


def describe_module(module: nn.Module) -> str:
    """``GhostNet(widen_factor=1.1)``: the class and, if it has one, its width."""
    width = getattr(module, 'widen_factor', None)
    name = type(module).__name__
    return f'{name}(widen_factor={width})' if width is not None else name


def check_fits(module: nn.Module,
               state: Dict[str, torch.Tensor],
               source: str,
               *,
               target: Optional[str] = None,
               hint: str = _PRETRAINED_HINT) -> None:
    """Raise :class:`PretrainedMismatchError` (with :func:`mismatch_report`)
    unless every tensor of ``module`` is in ``state`` with its shape.
    ``target`` names the module (default :func:`describe_module`)."""
    mismatches = find_mismatches(module, state)
    if mismatches:
        raise PretrainedMismatchError(mismatch_report(
            source, target or describe_module(module), mismatches, hint=hint))


def load_pretrained_strict(module: nn.Module,
                           checkpoint: str,
                           *,
                           prefix: Optional[str] = None,
                           map_location: str = 'cpu',
                           target: Optional[str] = None,
                           hint: str = _PRETRAINED_HINT) -> None:
    """Load a checkpoint into a module, requiring every tensor to match: a
    backbone's ImageNet weights, or (``prefix=''``) a whole detector's.

    Args:
        module (nn.Module): The backbone (or model).
        checkpoint (str): Path or URL of the checkpoint, loaded weights-only
            (:func:`ghostdet.checkpoint.load_checkpoint_file`).
        prefix (str, optional): See :func:`backbone_state_dict`; ``''``
            takes every key as it is.
        map_location (str): Where to put the tensors. Default: 'cpu'.
        target (str, optional): The module's name in messages. Default:
            :func:`describe_module`.
        hint (str): What a mismatch message tells to check. Default: the
            advice for ImageNet weights.

    Raises:
        PretrainedMismatchError: A tensor of the module is missing from the
            checkpoint or has another shape there.
        CheckpointError: The file is missing, unreadable or unsafe.
    """
    target = target or describe_module(module)
    loaded = load_checkpoint_file(checkpoint, map_location=map_location)
    try:
        state = backbone_state_dict(checkpoint_state_dict(loaded), prefix)
    except PretrainedMismatchError as error:
        raise PretrainedMismatchError(
            f'{checkpoint} cannot initialize {target}: {error}') from None
    check_fits(module, state, checkpoint, target=target, hint=hint)
    own = module.state_dict()
    # Strict: a fresh OrderedDict has no version metadata, so BatchNorm fills
    # in a missing num_batches_tracked as it does for old checkpoints.
    module.load_state_dict(OrderedDict((k, state[k]) for k in own if k in state), strict=True)
    print_log(f'{describe_module(module)}: loaded all {len(own)} tensors from {checkpoint} '
              f'({len(state) - len(own)} unused checkpoint tensors)', logger='current')


def pretrained_init(init_cfg: Optional[Union[dict, List[dict]]]) -> Optional[dict]:
    """The ``Pretrained`` entry of an ``init_cfg``, if any.

    Raises:
        InputError: More than one ``Pretrained`` entry, or one without a
            checkpoint.
    """
    cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    pretrained = [c for c in cfgs if isinstance(c, dict) and c.get('type') == 'Pretrained']
    if not pretrained:
        return None
    if len(pretrained) > 1:
        raise InputError(f'init_cfg has {len(pretrained)} Pretrained entries; give one.')
    if not pretrained[0].get('checkpoint'):
        raise InputError("init_cfg type='Pretrained' needs checkpoint=PATH: --cfg-options "
                         'model.backbone.init_cfg.checkpoint=PATH')
    return pretrained[0]


def pretrained_unavailable_message(checkpoint: str, reason: str) -> str:
    """What to do when a backbone's ImageNet weights cannot be had."""
    return (f'{reason}\n'
            f'  The backbone\'s init_cfg names {checkpoint} as its ImageNet weights. Either:\n'
            f'  - make them available: GhostNet 1.1x weights come from ImageNet pretraining, '
            f'`python tools/train.py configs/pretrain/ghostnet-1.1x_8xb128_in1k.py` (or '
            f'`tools/dist_train.sh ... 8`), which leaves {GHOSTNET_1_1X_PRETRAIN}; public '
            f'weights (GhostNet 1.0x, MobileNetV2/V3, RepGhostNet, GhostNetV2/V3) download '
            f'from their URL, or download them yourself and give the file: '
            f'--cfg-options model.backbone.init_cfg.checkpoint=PATH\n'
            f'  - or train from scratch, everything trainable (far below the paper\'s mAP): '
            f'--cfg-options model.backbone.init_cfg=None model.backbone.frozen_stages=-1 '
            f'model.backbone.norm_eval=False')


class StrictPretrainedMixin:
    """Make ``init_cfg=dict(type='Pretrained', checkpoint=...)`` strict.

    Put it before :class:`mmengine.model.BaseModule` in the bases of a
    backbone. Other ``init_cfg`` types are handled by MMEngine as usual.
    """

    def init_weights(self):
        cfg = pretrained_init(self.init_cfg)
        if cfg is None:
            super().init_weights()
            return
        checkpoint = str(cfg['checkpoint'])
        try:
            load_pretrained_strict(self, checkpoint, prefix=cfg.get('prefix'),
                                   map_location=cfg.get('map_location', 'cpu'))
        except CheckpointNotFoundError as error:
            raise CheckpointNotFoundError(
                pretrained_unavailable_message(checkpoint, str(error))) from None
        self._is_init = True
