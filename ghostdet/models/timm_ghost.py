"""The Ghost family after GhostNet (RepGhostNet, GhostNetV2, GhostNetV3) as
MMDetection backbones, built on timm's implementation.

One wrapper, :class:`TimmGhostBackbone`, builds timm's classifier at the
requested width and keeps its stem (``conv_stem``, ``bn1``, ``act1``) and its
``blocks`` up to the last requested output, under timm's own names: timm's
and the official state dicts load onto it as they are. The outputs are the
ends of the stages (``blocks.2/4/6/8``, strides 4/8/16/32) as for ghostdet's
:class:`~ghostdet.models.GhostNet`, plus ``blocks.9`` (the final 1x1 conv);
timm's ``features_only`` would tap the first block of each stride instead.
timm is imported when a backbone is built, not when ghostdet is imported.
"""
import importlib
from typing import List, Optional, Sequence, Tuple, Union

from mmdet.registry import MODELS

from ..errors import InputError
from .base_backbone import BaseStagedBackbone, FeatureInfo, GhostNetLayout
from .ghost_blocks import make_divisible


class TimmGhostBackbone(GhostNetLayout, BaseStagedBackbone):
    """A Ghost-family backbone built from timm's classifier (see the module
    docstring). Subclasses name timm's builder and its width-1 channels.

    Args:
        widen_factor (float): Width multiplier, any positive number timm
            builds; :attr:`named_widths` are those with public or official
            configurations. Default: 1.0.
        out_indices (Sequence[int]): Outputs to return: 0-3 are the stage ends
            at strides 4/8/16/32, 4 is ``blocks.9``. Default: (0, 1, 2, 3).
        frozen_stages (int): 0 freezes the stem, ``i`` in 1-5 the stem and
            the stages up to the one giving output ``i - 1``. Default: -1.
        norm_eval (bool): Keep BatchNorm layers in eval mode while training;
            needs a ``Pretrained`` ``init_cfg``. Default: False.
        with_cp (bool): Gradient checkpointing per block. Default: False.
        init_cfg (dict or list[dict], optional): Initialization config;
            ``dict(type='Pretrained', checkpoint=PATH_OR_URL)`` loads timm's
            or the authors' ImageNet weights strictly (safetensors or
            PyTorch files, weights-only). Default: Kaiming for convs,
            constant 1 for norms.
    """

    #: Module of timm that builds the network, and its builder function.
    timm_module: str = ''
    timm_builder: str = ''
    #: timm's variant name given to the builder (used by timm only to look up
    #: a pretrained config, which is never downloaded here).
    timm_variant: str = ''
    #: Further keyword arguments of the builder (e.g. ``version='v2'``).
    timm_kwargs: dict = {}
    #: Channels of the stage ends (blocks.2/4/6/8) and of blocks.9 at width 1.
    base_channels: Tuple[int, ...] = (24, 40, 112, 160, 960)
    #: ``blocks`` groups whose ends are outputs 0-4, and their strides.
    output_modules: Tuple[int, ...] = (2, 4, 6, 8, 9)
    output_strides: Tuple[int, ...] = (4, 8, 16, 32, 32)

    def __init__(self,
                 widen_factor: float = 1.0,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(widen_factor, out_indices, frozen_stages, norm_eval, with_cp,
                         init_cfg)
        network = self.build_timm_model(self.widen_factor)
        self.conv_stem = network.conv_stem
        self.bn1 = network.bn1
        self.act1 = network.act1
        last_group = int(self.last_stage_needed.split('.')[1])
        self.blocks = network.blocks[:last_group + 1]
        self._freeze_stages()

    @classmethod
    def build_timm_model(cls, widen_factor: float):
        """timm's whole classifier at a width (without its classifier layer).

        Raises:
            InputError: timm is missing or cannot build the network at that
                width.
        """
        try:
            module = importlib.import_module(cls.timm_module)
        except ImportError as error:
            raise InputError(f'{cls.__name__} is built on timm, which cannot be imported '
                             f'({error}): pip install "ghostdet[family]"') from None
        builder = getattr(module, cls.timm_builder)
        try:
            return builder(cls.timm_variant, width=widen_factor, pretrained=False,
                           num_classes=0, **cls.timm_kwargs)
        except (AssertionError, RuntimeError, ValueError, ZeroDivisionError) as error:
            raise InputError(
                f'timm cannot build {cls.__name__} at widen_factor={widen_factor} ({error}); '
                f'use one of the named widths {cls.named_widths}') from None

    @classmethod
    def describe_outputs(cls, widen_factor: float = 1.0) -> Tuple[FeatureInfo, ...]:
        """The five outputs at a width, without building the model (timm's
        channel rule: ``make_divisible(channels * width, 4)``)."""
        return tuple(
            FeatureInfo(make_divisible(channels * widen_factor, 4), stride, f'blocks.{group}')
            for channels, stride, group in zip(cls.base_channels, cls.output_strides,
                                               cls.output_modules))


@MODELS.register_module()
class RepGhostNet(TimmGhostBackbone):
    """RepGhostNet backbone (`RepGhost: A Hardware-Efficient Ghost Module via
    Re-parameterization <https://arxiv.org/abs/2211.06088>`_), timm's
    ``repghostnet_*``: the Ghost module's concat replaced by an add of
    re-parameterisable branches, folded into one depthwise conv for
    inference (:func:`ghostdet.deploy.deploy_model`).

    1.11x is GhostNet 1.1x's counterpart (170 MFLOPs, 75.1% top-1). See
    :class:`TimmGhostBackbone` for the arguments.

    Example:
        >>> RepGhostNet.stage_channels(1.11)
        (28, 44, 124, 176, 1064)
    """
    timm_module = 'timm.models.repghost'
    timm_builder = '_create_repghostnet'
    timm_variant = 'repghostnet_100'
    named_widths = (0.5, 0.58, 0.8, 1.0, 1.11, 1.3, 1.5, 2.0)


@MODELS.register_module()
class GhostNetV2(TimmGhostBackbone):
    """GhostNetV2 backbone (`GhostNetV2: Enhance Cheap Operation with
    Long-Range Attention <https://arxiv.org/abs/2211.12905>`_), timm's
    ``ghostnetv2_*``: GhostNet with DFC attention. See
    :class:`TimmGhostBackbone` for the arguments.

    Example:
        >>> GhostNetV2.stage_channels(1.0)
        (24, 40, 112, 160, 960)
    """
    timm_module = 'timm.models.ghostnet'
    timm_builder = '_create_ghostnet'
    timm_variant = 'ghostnetv2_100'
    timm_kwargs = dict(version='v2')
    named_widths = (1.0, 1.3, 1.6)


@MODELS.register_module()
class GhostNetV3(TimmGhostBackbone):
    """GhostNetV3 backbone (`GhostNetV3: Exploring the Training Strategies for
    Compact Models <https://arxiv.org/abs/2404.11202>`_), timm's
    ``ghostnetv3_*``: re-parameterisable branches in every Ghost module,
    folded for inference (:func:`ghostdet.deploy.deploy_model`). See
    :class:`TimmGhostBackbone` for the arguments.

    Example:
        >>> GhostNetV3.stage_channels(1.0)
        (24, 40, 112, 160, 960)
    """
    timm_module = 'timm.models.ghostnet'
    timm_builder = '_create_ghostnet'
    timm_variant = 'ghostnetv3_100'
    timm_kwargs = dict(version='v3')
    named_widths = (0.5, 1.0, 1.3, 1.6)
