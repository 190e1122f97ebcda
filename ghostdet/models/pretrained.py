"""Strict loading of ImageNet checkpoints into backbones.

MMEngine's ``Pretrained`` initializer loads with ``strict=False`` and only
warns about keys that do not fit, so a checkpoint of the wrong width or model
silently leaves the backbone random. Here every parameter and buffer of the
backbone must be found in the checkpoint with the same shape, or loading
fails and names the first mismatches.

Accepted layouts: bare keys (the official GhostNet ``state_dict_73.98.pth``,
timm and torchvision state dicts; their classifier keys are ignored),
MMDetection/MMPretrain checkpoints whose backbone keys start with
``backbone.``, either plain or under ``state_dict``/``model``/``module``.
"""
from collections import OrderedDict

import torch
from mmengine.logging import print_log
from mmengine.runner.checkpoint import CheckpointLoader

_SHOW = 5


class PretrainedMismatchError(RuntimeError):
    """A checkpoint does not fit the backbone it is loaded into."""


def checkpoint_state_dict(checkpoint):
    """Return the tensor dict inside a loaded checkpoint, without a DDP
    ``module.`` prefix."""
    state = checkpoint
    for key in ('state_dict', 'model', 'module'):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not any(torch.is_tensor(v) for v in state.values()):
        raise PretrainedMismatchError('the checkpoint holds no state dict of tensors')
    if all(k.startswith('module.') for k in state):
        state = OrderedDict((k[len('module.'):], v) for k, v in state.items())
    return state


def backbone_state_dict(state, prefix=None):
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


def state_dict_mismatches(module, state):
    """Return ``(missing keys, [(key, checkpoint shape, module shape)])``."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    wrong_shape = [(k, tuple(state[k].shape), tuple(v.shape)) for k, v in own.items()
                   if k in state and state[k].shape != v.shape]
    return missing, wrong_shape


def load_pretrained_strict(module, checkpoint, prefix=None, map_location='cpu'):
    """Load a checkpoint into a backbone, requiring every tensor to match.

    Args:
        module (nn.Module): The backbone.
        checkpoint (str): Path or URL of the checkpoint (anything MMEngine's
            ``CheckpointLoader`` reads). Loaded with ``weights_only``.
        prefix (str, optional): See :func:`backbone_state_dict`.
        map_location (str): Where to put the tensors. Default: 'cpu'.

    Raises:
        PretrainedMismatchError: A backbone tensor is missing from the
            checkpoint or has another shape there.
    """
    loaded = CheckpointLoader.load_checkpoint(checkpoint, map_location=map_location)
    name = type(module).__name__
    try:
        state = backbone_state_dict(checkpoint_state_dict(loaded), prefix)
    except PretrainedMismatchError as error:
        raise PretrainedMismatchError(f'{checkpoint} cannot initialize {name}: {error}') from None
    missing, wrong_shape = state_dict_mismatches(module, state)
    if missing or wrong_shape:
        total = len(module.state_dict())
        lines = [f'{checkpoint} does not fit {name}'
                 f'{_describe(module)}: of its {total} parameters and buffers, '
                 f'{len(missing)} are missing from the checkpoint and '
                 f'{len(wrong_shape)} have another shape there.']
        lines += [f'  missing: {k}' for k in missing[:_SHOW]]
        lines += [f'  shape: {k} is {c} in the checkpoint, {m} in the model'
                  for k, c, m in wrong_shape[:_SHOW]]
        lines.append('  Check that the checkpoint is of this model and width (only 1.0x GhostNet '
                     'weights are public); detector checkpoints need prefix="backbone.".')
        raise PretrainedMismatchError('\n'.join(lines))
    module.load_state_dict(OrderedDict((k, state[k]) for k in module.state_dict()), strict=True)
    print_log(f'{name}: loaded all {len(module.state_dict())} tensors from {checkpoint} '
              f'({len(state) - len(module.state_dict())} unused checkpoint tensors)',
              logger='current')


def _describe(module):
    width = getattr(module, 'widen_factor', None)
    return f'(widen_factor={width})' if width is not None else ''


class StrictPretrainedMixin:
    """Make ``init_cfg=dict(type='Pretrained', checkpoint=...)`` strict.

    Put it before :class:`mmengine.model.BaseModule` in the bases of a
    backbone. Other ``init_cfg`` types are handled by MMEngine as usual.
    """

    def init_weights(self):
        cfgs = self.init_cfg if isinstance(self.init_cfg, (list, tuple)) else [self.init_cfg]
        pretrained = [c for c in cfgs if isinstance(c, dict) and c.get('type') == 'Pretrained']
        if not pretrained:
            super().init_weights()
            return
        if len(pretrained) > 1:
            raise ValueError(f'init_cfg has {len(pretrained)} Pretrained entries; give one.')
        cfg = pretrained[0]
        if not cfg.get('checkpoint'):
            raise ValueError("init_cfg type='Pretrained' needs checkpoint=PATH")
        load_pretrained_strict(self, cfg['checkpoint'], prefix=cfg.get('prefix'),
                               map_location=cfg.get('map_location', 'cpu'))
        self._is_init = True
