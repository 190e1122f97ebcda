"""Building blocks of GhostNet (Han et al., CVPR 2020).

Module and attribute names follow the official implementation so that its
checkpoints (and timm's, which share the names) map onto these modules key by
key: ``primary_conv.{0,1}``, ``cheap_operation.{0,1}``, ``conv_dw``,
``bn_dw``, ``se.conv_reduce``, ``se.conv_expand``, ``shortcut.{0,1,2,3}``.
"""
import math
from typing import Optional

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_conv_layer, build_norm_layer


def make_divisible(value: float, divisor: int = 4, min_value: Optional[int] = None) -> int:
    """Round ``value`` to the nearest multiple of ``divisor``: MMDetection's
    ``make_divisible`` (the official GhostNet width rule), with GhostNet's
    divisor 4 as the default.

    The result is at least ``min_value`` (default ``divisor``) and never more
    than 10% below ``value``.
    """
    # Imported here: mmdet.models takes over a second to import.
    from mmdet.models.utils import make_divisible as mmdet_make_divisible
    return mmdet_make_divisible(value, divisor, min_value)


def _norm(norm_cfg, channels):
    return build_norm_layer(norm_cfg, channels)[1]


def _activation(act_cfg):
    """The activation, in place where its type allows (as mmcv's ConvModule
    builds it): the Ghost modules hold most of GhostNet's activations, and
    a new tensor for each costs time on small inputs."""
    cfg = dict(act_cfg)
    if cfg['type'] not in ('Tanh', 'PReLU', 'Sigmoid', 'HSigmoid', 'Swish', 'GELU'):
        cfg.setdefault('inplace', True)
    return build_activation_layer(cfg)


class GhostModule(nn.Module):
    """Ghost module: a 1x1 conv makes half of the maps, a depthwise conv the rest.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        ratio (int): Ratio of all maps to the intrinsic maps of the 1x1 conv.
            Default: 2.
        dw_size (int): Kernel size of the cheap depthwise operation.
            Default: 3.
        with_act (bool): Whether both branches end with the activation.
            Default: True.
        conv_cfg (dict, optional): Config of the conv layers. Default: None.
        norm_cfg (dict): Config of the norm layers. Default: dict(type='BN').
        act_cfg (dict): Config of the activation. Default: dict(type='ReLU').
    """

    def __init__(self,
                 in_channels,
                 out_channels,
                 ratio=2,
                 dw_size=3,
                 with_act=True,
                 conv_cfg=None,
                 norm_cfg=dict(type='BN'),
                 act_cfg=dict(type='ReLU')):
        super().__init__()
        self.out_channels = out_channels
        init_channels = math.ceil(out_channels / ratio)
        cheap_channels = init_channels * (ratio - 1)

        def act():
            return _activation(act_cfg) if with_act else nn.Identity()

        self.primary_conv = nn.Sequential(
            build_conv_layer(conv_cfg, in_channels, init_channels, 1, bias=False),
            _norm(norm_cfg, init_channels), act())
        self.cheap_operation = nn.Sequential(
            build_conv_layer(
                conv_cfg,
                init_channels,
                cheap_channels,
                dw_size,
                padding=dw_size // 2,
                groups=init_channels,
                bias=False), _norm(norm_cfg, cheap_channels), act())

    def forward(self, x):
        intrinsic = self.primary_conv(x)
        ghosts = self.cheap_operation(intrinsic)
        return torch.cat([intrinsic, ghosts], dim=1)[:, :self.out_channels]


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation with GhostNet's hard-sigmoid gate.

    Args:
        channels (int): Input and output channels.
        se_ratio (float): Ratio of reduced to input channels.
        divisor (int): The reduced channels are rounded to a multiple of it.
            Default: 4.
        act_cfg (dict): Activation after the reduction.
            Default: dict(type='ReLU').
    """

    def __init__(self, channels, se_ratio, divisor=4, act_cfg=dict(type='ReLU')):
        super().__init__()
        reduced = make_divisible(channels * se_ratio, divisor)
        self.conv_reduce = nn.Conv2d(channels, reduced, 1, bias=True)
        self.act = build_activation_layer(act_cfg)
        self.conv_expand = nn.Conv2d(reduced, channels, 1, bias=True)
        self.gate = nn.Hardsigmoid()  # relu6(x + 3) / 6

    def forward(self, x):
        weight = x.mean((2, 3), keepdim=True)
        weight = self.conv_expand(self.act(self.conv_reduce(weight)))
        return x * self.gate(weight)


class GhostBottleneck(nn.Module):
    """Ghost bottleneck: ghost module, optional strided depthwise conv and SE,
    ghost module without activation, plus a shortcut.

    Args:
        in_channels (int): Input channels.
        mid_channels (int): Expanded channels.
        out_channels (int): Output channels.
        kernel_size (int): Kernel of the depthwise convs. Default: 3.
        stride (int): 1 or 2. Default: 1.
        se_ratio (float): SE reduction ratio; 0 disables SE. Default: 0.
        conv_cfg (dict, optional): Config of the conv layers. Default: None.
        norm_cfg (dict): Config of the norm layers. Default: dict(type='BN').
        act_cfg (dict): Config of the activation. Default: dict(type='ReLU').
    """

    def __init__(self,
                 in_channels,
                 mid_channels,
                 out_channels,
                 kernel_size=3,
                 stride=1,
                 se_ratio=0.,
                 conv_cfg=None,
                 norm_cfg=dict(type='BN'),
                 act_cfg=dict(type='ReLU')):
        super().__init__()
        self.stride = stride
        ghost_cfg = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.ghost1 = GhostModule(in_channels, mid_channels, with_act=True, **ghost_cfg)
        if stride > 1:
            self.conv_dw = build_conv_layer(
                conv_cfg,
                mid_channels,
                mid_channels,
                kernel_size,
                stride=stride,
                padding=(kernel_size - 1) // 2,
                groups=mid_channels,
                bias=False)
            self.bn_dw = _norm(norm_cfg, mid_channels)
        self.se = SqueezeExcite(mid_channels, se_ratio, act_cfg=act_cfg) if se_ratio > 0 else None
        self.ghost2 = GhostModule(mid_channels, out_channels, with_act=False, **ghost_cfg)

        if in_channels == out_channels and stride == 1:
            self.shortcut = nn.Sequential()
        else:
            self.shortcut = nn.Sequential(
                build_conv_layer(
                    conv_cfg,
                    in_channels,
                    in_channels,
                    kernel_size,
                    stride=stride,
                    padding=(kernel_size - 1) // 2,
                    groups=in_channels,
                    bias=False), _norm(norm_cfg, in_channels),
                build_conv_layer(conv_cfg, in_channels, out_channels, 1, bias=False),
                _norm(norm_cfg, out_channels))

    def forward(self, x):
        out = self.ghost1(x)
        if self.stride > 1:
            out = self.bn_dw(self.conv_dw(out))
        if self.se is not None:
            out = self.se(out)
        out = self.ghost2(out)
        out += self.shortcut(x)
        return out


class ConvBnAct(nn.Module):
    """Conv, norm and activation with the official key names ``conv``/``bn1``.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int): Kernel size. Default: 1.
        conv_cfg (dict, optional): Config of the conv layer. Default: None.
        norm_cfg (dict): Config of the norm layer. Default: dict(type='BN').
        act_cfg (dict): Config of the activation. Default: dict(type='ReLU').
    """

    def __init__(self,
                 in_channels,
                 out_channels,
                 kernel_size=1,
                 conv_cfg=None,
                 norm_cfg=dict(type='BN'),
                 act_cfg=dict(type='ReLU')):
        super().__init__()
        self.conv = build_conv_layer(
            conv_cfg, in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn1 = _norm(norm_cfg, out_channels)
        self.act1 = build_activation_layer(act_cfg)

    def forward(self, x):
        return self.act1(self.bn1(self.conv(x)))
