"""What ghostdet's backbones share: MMDetection-style arguments, frozen
stages, ``norm_eval`` and strict ``Pretrained`` loading."""
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from .pretrained import StrictPretrainedMixin


class BaseStagedBackbone(StrictPretrainedMixin, BaseModule):
    """Base of backbones with outputs 0-3 at the stage ends of strides
    4/8/16/32 and output 4 at the final 1x1 conv.

    Subclasses set ``stage_ends`` and ``named_widths``, build their layers
    after calling ``super().__init__``, then call ``_freeze_stages()``, and
    implement ``_frozen_modules()``.

    Args:
        widen_factor (float): Width multiplier, a positive number.
        out_indices (Sequence[int]): Outputs to return, in range(0, 5).
        frozen_stages (int): -1 nothing frozen, 0 the stem, ``i`` in 1-5 the
            stem and the stages up to the one giving output ``i - 1``.
        norm_eval (bool): Keep BatchNorm layers in eval mode while training.
        with_cp (bool): Gradient checkpointing per block.
        init_cfg (dict or list[dict], optional): Initialization config;
            ``Pretrained`` loading is strict. Default: Kaiming for convs,
            constant 1 for norms.
    """

    stage_ends = ()
    named_widths = ()

    def __init__(self, widen_factor, out_indices, frozen_stages, norm_eval, with_cp,
                 init_cfg=None):
        if init_cfg is None:
            init_cfg = [
                dict(type='Kaiming', layer='Conv2d'),
                dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
            ]
        super().__init__(init_cfg=init_cfg)
        self._check_args(widen_factor, out_indices, frozen_stages)
        self.widen_factor = float(widen_factor)
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp

    @classmethod
    def _check_args(cls, widen_factor, out_indices, frozen_stages):
        if isinstance(widen_factor, bool) or not isinstance(widen_factor, (int, float)) \
                or widen_factor <= 0:
            raise ValueError(f'widen_factor must be a positive number ({cls.named_widths} are '
                             f'the named widths), but got {widen_factor!r}')
        num_outputs = len(cls.stage_ends)
        if isinstance(out_indices, int) or len(out_indices) == 0:
            raise ValueError(f'out_indices must be a non-empty sequence of ints in '
                             f'range(0, {num_outputs}), but got {out_indices!r}')
        for index in out_indices:
            if isinstance(index, bool) or not isinstance(index, int) or \
                    not 0 <= index < num_outputs:
                raise ValueError(
                    f'out_indices must be in range(0, {num_outputs}) (0-3: strides '
                    f'4/8/16/32, 4: final 1x1 conv), but got {tuple(out_indices)}')
        if len(set(out_indices)) != len(out_indices):
            raise ValueError(f'out_indices has duplicates: {tuple(out_indices)}')
        if isinstance(frozen_stages, bool) or not isinstance(frozen_stages, int) or \
                frozen_stages not in range(-1, num_outputs + 1):
            raise ValueError(f'frozen_stages must be an int in range(-1, {num_outputs + 1}), '
                             f'but got {frozen_stages!r}')

    def _frozen_modules(self):
        """The modules that ``frozen_stages`` freezes."""
        raise NotImplementedError

    def _freeze_stages(self):
        for module in self._frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def _run_block(self, block, x):
        """Run one block, with gradient checkpointing when ``with_cp``."""
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(block, x, use_reentrant=False)
        return block(x)

    def train(self, mode=True):
        """Switch to train mode, keeping frozen stages and (with
        ``norm_eval``) all BatchNorm layers in eval mode."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self
