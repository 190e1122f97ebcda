"""GhostNet backbone for MMDetection."""
import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_conv_layer, build_norm_layer
from mmdet.registry import MODELS

from .base_backbone import BaseStagedBackbone
from .ghost_blocks import ConvBnAct, GhostBottleneck, make_divisible


@MODELS.register_module()
class GhostNet(BaseStagedBackbone):
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
    # ``blocks`` index that ends the stage giving each output index.
    stage_ends = (2, 4, 6, 8, 9)
    named_widths = (0.5, 1.0, 1.1, 1.3)
    stem_channels = 16
    final_channels = 960
    strides = (4, 8, 16, 32, 32)

    def __init__(self,
                 widen_factor=1.0,
                 out_indices=(0, 1, 2, 3),
                 frozen_stages=-1,
                 conv_cfg=None,
                 norm_cfg=dict(type='BN'),
                 act_cfg=dict(type='ReLU'),
                 norm_eval=False,
                 with_cp=False,
                 init_cfg=None):
        super().__init__(widen_factor, out_indices, frozen_stages, norm_eval, with_cp,
                         init_cfg)
        layer_cfg = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)

        in_channels = make_divisible(self.stem_channels * widen_factor, 4)
        self.conv_stem = build_conv_layer(
            conv_cfg, 3, in_channels, 3, stride=2, padding=1, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, in_channels)[1]
        self.act1 = build_activation_layer(act_cfg)

        # Build only up to the last requested output.
        last_block = self.stage_ends[max(self.out_indices)]
        channels_after = {}
        blocks = []
        for group_index, group in enumerate(self.arch_settings[:last_block + 1]):
            layers = []
            for kernel, mid, out, se_ratio, stride in group:
                out_channels = make_divisible(out * widen_factor, 4)
                mid_channels = make_divisible(mid * widen_factor, 4)
                layers.append(
                    GhostBottleneck(in_channels, mid_channels, out_channels, kernel, stride,
                                    se_ratio, **layer_cfg))
                in_channels = out_channels
            blocks.append(nn.Sequential(*layers))
            channels_after[group_index] = in_channels
        if last_block == 9:
            final = make_divisible(self.final_channels * widen_factor, 4)
            blocks.append(nn.Sequential(ConvBnAct(in_channels, final, 1, **layer_cfg)))
            channels_after[9] = final
        self.blocks = nn.Sequential(*blocks)
        self.out_channels = tuple(channels_after[self.stage_ends[i]] for i in self.out_indices)

        self._freeze_stages()

    @classmethod
    def stage_channels(cls, widen_factor=1.0):
        """Channels of the five outputs (strides 4/8/16/32 and ``blocks.9``)
        at a width, without building the model.

        Example:
            >>> GhostNet.stage_channels(1.1)
            (28, 44, 124, 176, 1056)
        """
        channels = [make_divisible(group[-1][2] * widen_factor, 4)
                    for group in cls.arch_settings]
        final = make_divisible(cls.final_channels * widen_factor, 4)
        return tuple(channels[i] for i in cls.stage_ends[:-1]) + (final, )

    def _frozen_modules(self):
        if self.frozen_stages >= 0:
            yield from (self.conv_stem, self.bn1)
        if self.frozen_stages >= 1:
            last = self.stage_ends[min(self.frozen_stages, len(self.stage_ends)) - 1]
            yield from self.blocks[:last + 1]

    def forward(self, x):
        """Return the requested feature maps as a tuple."""
        x = self.act1(self.bn1(self.conv_stem(x)))
        outputs = {}
        wanted = {self.stage_ends[i] for i in self.out_indices}
        for index, group in enumerate(self.blocks):
            for block in group:
                x = self._run_block(block, x)
            if index in wanted:
                outputs[index] = x
        return tuple(outputs[self.stage_ends[i]] for i in self.out_indices)
