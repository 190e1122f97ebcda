"""What ghostdet's backbones share: one record per output, the forward loop,
MMDetection-style arguments, frozen stages, ``norm_eval``, gradient
checkpointing and strict ``Pretrained`` loading."""
from typing import Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from ..checkpoint.pretrained import StrictPretrainedMixin, pretrained_init
from ..errors import InputError


class FeatureInfo(NamedTuple):
    """One output of a backbone, as timm's ``feature_info`` describes it.

    Attributes:
        channels (int): Channels of the feature map.
        stride (int): Its stride relative to the input image.
        module (str): Name of the module whose output it is, e.g. ``'blocks.2'``.
    """
    channels: int
    stride: int
    module: str


class BaseStagedBackbone(StrictPretrainedMixin, BaseModule):
    """Base of backbones whose outputs are the ends of their stages.

    A subclass describes its outputs once, in :meth:`describe_outputs` (five
    records: the stage ends at strides 4/8/16/32, then the final 1x1 conv),
    builds its layers after calling ``super().__init__`` and then calls
    ``_freeze_stages()``; it implements ``_stem``, ``_stem_modules`` and
    ``_stages``. Everything else (argument checks, ``out_channels``, the
    forward loop, freezing, ``norm_eval``, ``with_cp``) is here.

    Args:
        widen_factor (float): Width multiplier, a positive number.
        out_indices (Sequence[int]): Indices into :meth:`describe_outputs` of
            the outputs to return, in the order given.
        frozen_stages (int): -1 nothing frozen, 0 the stem, ``i`` >= 1 the
            stem and the stages up to the one giving output ``i - 1``.
        norm_eval (bool): Keep BatchNorm layers in eval mode while training.
            It and ``frozen_stages >= 0`` need a ``Pretrained`` ``init_cfg``:
            without one the backbone refuses to be built.
        with_cp (bool): Gradient checkpointing per block.
        init_cfg (dict or list[dict], optional): Initialization config;
            ``Pretrained`` loading is strict. Default: Kaiming for convs,
            constant 1 for norms.
    """

    #: Widths with a name, quoted in error messages.
    named_widths: Tuple[float, ...] = ()

    def __init__(self,
                 widen_factor: float,
                 out_indices: Sequence[int],
                 frozen_stages: int,
                 norm_eval: bool,
                 with_cp: bool,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        if init_cfg is None:
            init_cfg = [
                dict(type='Kaiming', layer='Conv2d'),
                dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
            ]
        super().__init__(init_cfg=init_cfg)
        self._check_args(widen_factor, out_indices, frozen_stages)
        self._refuse_frozen_random_weights(frozen_stages, norm_eval, init_cfg)
        self.widen_factor = float(widen_factor)
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        outputs = self.describe_outputs(self.widen_factor)
        self.feature_info = tuple(outputs[i] for i in self.out_indices)

    @classmethod
    def describe_outputs(cls, widen_factor: float = 1.0) -> Tuple[FeatureInfo, ...]:
        """All the outputs the backbone can give at a width, without building
        it: the stage ends at strides 4/8/16/32, then the final 1x1 conv."""
        raise NotImplementedError

    @classmethod
    def stage_channels(cls, widen_factor: float = 1.0) -> Tuple[int, ...]:
        """Channels of every output of :meth:`describe_outputs` at a width."""
        return tuple(info.channels for info in cls.describe_outputs(widen_factor))

    @property
    def out_channels(self) -> Tuple[int, ...]:
        """Channels of the requested outputs, in ``out_indices`` order."""
        return tuple(info.channels for info in self.feature_info)

    @property
    def last_stage_needed(self) -> str:
        """Name of the last stage a forward pass must run."""
        return self.describe_outputs(self.widen_factor)[max(self.out_indices)].module

    @classmethod
    def _check_args(cls, widen_factor, out_indices, frozen_stages):
        if isinstance(widen_factor, bool) or not isinstance(widen_factor, (int, float)) \
                or widen_factor <= 0:
            raise InputError(f'widen_factor must be a positive number ({cls.named_widths} are '
                             f'the named widths), but got {widen_factor!r}')
        num_outputs = len(cls.describe_outputs(float(widen_factor)))
        if isinstance(out_indices, int) or len(out_indices) == 0:
            raise InputError(f'out_indices must be a non-empty sequence of ints in '
                             f'range(0, {num_outputs}), but got {out_indices!r}')
        for index in out_indices:
            if isinstance(index, bool) or not isinstance(index, int) or \
                    not 0 <= index < num_outputs:
                raise InputError(
                    f'out_indices must be in range(0, {num_outputs}) (0-3: strides '
                    f'4/8/16/32, 4: final 1x1 conv), but got {tuple(out_indices)}')
        if len(set(out_indices)) != len(out_indices):
            raise InputError(f'out_indices has duplicates: {tuple(out_indices)}')
        if isinstance(frozen_stages, bool) or not isinstance(frozen_stages, int) or \
                frozen_stages not in range(-1, num_outputs + 1):
            raise InputError(f'frozen_stages must be an int in range(-1, {num_outputs + 1}), '
                             f'but got {frozen_stages!r}')

    @classmethod
    def _refuse_frozen_random_weights(cls, frozen_stages, norm_eval, init_cfg):
        """Frozen layers and frozen BatchNorm statistics only make sense on
        pretrained weights; on random ones a long run learns next to nothing
        (torchvision's detection builders guard the same way)."""
        if (frozen_stages < 0 and not norm_eval) or pretrained_init(init_cfg) is not None:
            return
        raise InputError(
            f'{cls.__name__} with frozen_stages={frozen_stages}, norm_eval={norm_eval} and no '
            f"init_cfg=dict(type='Pretrained', ...) would train from random weights with "
            f'frozen layers or BatchNorm statistics stuck at their initial values, which '
            f'learns next to nothing. Either load ImageNet weights: '
            f"--cfg-options model.backbone.init_cfg.type=Pretrained "
            f'model.backbone.init_cfg.checkpoint=PATH (see the config and README), or train '
            f'from scratch with everything trainable: --cfg-options '
            f'model.backbone.frozen_stages=-1 model.backbone.norm_eval=False.')

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        """Run the layers before the first stage."""
        raise NotImplementedError

    def _stem_modules(self) -> Sequence[nn.Module]:
        """The modules ``_stem`` runs (what ``frozen_stages=0`` freezes)."""
        raise NotImplementedError

    def _stages(self) -> Iterator[Tuple[str, Sequence[nn.Module]]]:
        """``(name, blocks)`` of every built stage, in forward order; the
        names are those :meth:`describe_outputs` gives as ``module``."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Return the requested feature maps as a tuple, in ``out_indices``
        order."""
        wanted = {info.module for info in self.feature_info}
        found = {}
        x = self._stem(x)
        for name, blocks in self._stages():
            for block in blocks:
                x = self._run_block(block, x)
            if name in wanted:
                found[name] = x
        return tuple(found[info.module] for info in self.feature_info)

    def _run_block(self, block, x):
        """Run one block, with gradient checkpointing when ``with_cp``."""
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(block, x, use_reentrant=False)
        return block(x)

    def _frozen_modules(self) -> List[nn.Module]:
        if self.frozen_stages < 0:
            return []
        modules = list(self._stem_modules())
        if self.frozen_stages >= 1:
            last = self.describe_outputs(self.widen_factor)[self.frozen_stages - 1].module
            for name, blocks in self._stages():
                modules += list(blocks)
                if name == last:
                    break
        return modules

    def _freeze_stages(self):
        for module in self._frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'BaseStagedBackbone':
        """Switch to train mode, keeping frozen stages and (with
        ``norm_eval``) all BatchNorm layers in eval mode."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self


class GhostNetLayout:
    """The stem and stages of the GhostNet module layout (``conv_stem``,
    ``bn1``, ``act1``, then the stage groups in ``blocks``), which ghostdet's
    :class:`GhostNet` and timm's Ghost family share; mixed in before
    :class:`BaseStagedBackbone`."""

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.act1(self.bn1(self.conv_stem(x)))

    def _stem_modules(self) -> Sequence[nn.Module]:
        return (self.conv_stem, self.bn1)

    def _stages(self) -> Iterator[Tuple[str, Sequence[nn.Module]]]:
        for index, group in enumerate(self.blocks):
            yield f'blocks.{index}', group
