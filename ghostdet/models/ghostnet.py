"""GhostNet backbone for MMDetection."""
from typing import List, Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_conv_layer, build_norm_layer
from mmdet.registry import MODELS

from .base_backbone import BaseStagedBackbone, FeatureInfo, GhostNetLayout
from .ghost_blocks import ConvBnAct, GhostBottleneck, make_divisible


@MODELS.register_module()
class GhostNet(GhostNetLayout, BaseStagedBackbone):
    """GhostNet backbone (`GhostNet: More Features from Cheap Operations
    <https://arxiv.org/abs/1911.11907>`_).

    The layers and their names are those of the official ImageNet model, so
    its checkpoints load onto this backbone. The multi-scale outputs are the
    ends of the four stages (``blocks.2/4/6/8``, strides 4/8/16/32), as the
    GhostNet authors tapped them for detection; index 4 is the final 1x1 conv
    (``blocks.9``, stride 32). Blocks after the last requested output are not
    built.

    Args:
        widen_factor (float): Width multiplier, any positive number; 0.5, 1.0,
            1.1 (the paper's detection width) and 1.3 are the named widths.
            Default: 1.0.
        out_indices (Sequence[int]): Outputs to return: 0-3 are the stage ends
            at strides 4/8/16/32, 4 is ``blocks.9``. Default: (0, 1, 2, 3).
        frozen_stages (int): Stages whose parameters are frozen and norm layers
            kept in eval mode: 0 is the stem, ``i`` in 1-5 freezes the stem and
            the stages up to the one giving output ``i - 1``. Default: -1,
            nothing frozen.
        conv_cfg (dict, optional): Config of the conv layers. Default: None.
        norm_cfg (dict): Config of the norm layers. Default: dict(type='BN').
        act_cfg (dict): Config of the activation. Default: dict(type='ReLU').
        norm_eval (bool): Keep the BatchNorm layers in eval mode (frozen
            running statistics) while training. Default: False.
        with_cp (bool): Use gradient checkpointing in each bottleneck, saving
            memory at the cost of speed. Default: False.
        init_cfg (dict or list[dict], optional): Initialization config.
            ``dict(type='Pretrained', checkpoint=PATH)`` loads ImageNet
            weights: an official GhostNet or timm state dict, or an
            MMDetection/MMPretrain checkpoint (``backbone.`` keys). Every
            parameter and buffer must be found with its shape, else
            :class:`PretrainedMismatchError` names the mismatches.
            Default: Kaiming for convs, constant 1 for norms.

    Example:
        >>> import torch
        >>> from ghostdet.models import GhostNet
        >>> model = GhostNet(widen_factor=1.1).eval()
        >>> for out in model(torch.rand(1, 3, 224, 224)):
        ...     print(tuple(out.shape))
        (1, 28, 56, 56)
        (1, 44, 28, 28)
        (1, 124, 14, 14)
        (1, 176, 7, 7)
    """

    # One row per bottleneck: kernel, expanded channels, out channels,
    # SE ratio, stride. Each inner list is one ``blocks.N`` group.
    arch_settings = [
        [[3, 16, 16, 0, 1]],
        [[3, 48, 24, 0, 2]],
        [[3, 72, 24, 0, 1]],
        [[5, 72, 40, 0.25, 2]],
        [[5, 120, 40, 0.25, 1]],
        [[3, 240, 80, 0, 2]],
        [[3, 200, 80, 0, 1], [3, 184, 80, 0, 1], [3, 184, 80, 0, 1],
         [3, 480, 112, 0.25, 1], [3, 672, 112, 0.25, 1]],
        [[5, 672, 160, 0.25, 2]],
        [[5, 960, 160, 0, 1], [5, 960, 160, 0.25, 1], [5, 960, 160, 0, 1],
         [5, 960, 160, 0.25, 1]],
    ]
    # The ``blocks`` groups whose ends are outputs 0-3 (strides 4/8/16/32).
    stage_end_groups = (2, 4, 6, 8)
    named_widths = (0.5, 1.0, 1.1, 1.3)
    stem_channels = 16
    final_channels = 960

    def __init__(self,
                 widen_factor: float = 1.0,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(widen_factor, out_indices, frozen_stages, norm_eval, with_cp,
                         init_cfg)
        layer_cfg = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)

        in_channels = make_divisible(self.stem_channels * widen_factor, 4)
        self.conv_stem = build_conv_layer(
            conv_cfg, 3, in_channels, 3, stride=2, padding=1, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, in_channels)[1]
        self.act1 = build_activation_layer(act_cfg)

        # Build only up to the last requested output.
        last_group = int(self.last_stage_needed.split('.')[1])
        blocks = []
        for group in self.arch_settings[:last_group + 1]:
            layers = []
            for kernel, mid, out, se_ratio, stride in group:
                out_channels = make_divisible(out * widen_factor, 4)
                mid_channels = make_divisible(mid * widen_factor, 4)
                layers.append(
                    GhostBottleneck(in_channels, mid_channels, out_channels, kernel, stride,
                                    se_ratio, **layer_cfg))
                in_channels = out_channels
            blocks.append(nn.Sequential(*layers))
        if last_group == len(self.arch_settings):
            final = make_divisible(self.final_channels * widen_factor, 4)
            blocks.append(nn.Sequential(ConvBnAct(in_channels, final, 1, **layer_cfg)))
        self.blocks = nn.Sequential(*blocks)

        self._freeze_stages()

    @classmethod
    def describe_outputs(cls, widen_factor: float = 1.0) -> Tuple[FeatureInfo, ...]:
        """The five outputs at a width, without building the model: the ends
        of ``blocks.2/4/6/8`` (strides 4/8/16/32), then ``blocks.9``.

        Example:
            >>> GhostNet.stage_channels(1.1)
            (28, 44, 124, 176, 1056)
            >>> GhostNet.describe_outputs(1.1)[0]
            FeatureInfo(channels=28, stride=4, module='blocks.2')
        """
        stride, ends = 2, {}  # the stem has stride 2
        for index, group in enumerate(cls.arch_settings):
            for _, _, out, _, block_stride in group:
                stride *= block_stride
            ends[index] = FeatureInfo(make_divisible(out * widen_factor, 4), stride,
                                      f'blocks.{index}')
        final = FeatureInfo(make_divisible(cls.final_channels * widen_factor, 4), stride,
                            f'blocks.{len(cls.arch_settings)}')
        return tuple(ends[index] for index in cls.stage_end_groups) + (final, )

