"""GhostNet's deploy form: the function of a trained GhostNet from fewer and
cheaper operations, for inference.

What changes, all exactly (outputs equal the trained backbone's up to float
rounding):

- every BatchNorm is folded into the conv before it (torch's
  ``fuse_conv_bn_weights``);
- the Ghost module's channel slice ``[:, :out]`` is gone: GhostNet's widths
  are multiples of 4, so it never drops a channel (where it would, the extra
  channel stays and the layers that read it give it zero weight);
- every feature map is carried as one or more tensors ("parts") with a
  :class:`ChannelLayout` saying where each channel is, and the layers that
  read it have their weights arranged to that layout. Two forms of the Ghost
  module follow from that:

  - ``concat``: the two halves concatenated into one tensor (the original
    structure, minus BN and slice). The faster form in PyTorch only at small
    inputs (224 px);
  - ``split``: no concat; the intrinsic and the ghost maps stay two tensors,
    and a conv that reads both is split into one conv per part whose results
    are added (ONNX Runtime adds the second into the first conv's output
    buffer, NCHWc ``Sum`` fusion). Faster in ONNX Runtime, and in PyTorch
    from 320 px up.

  ``align`` pads each part to a multiple of that many channels with zero
  channels: ONNX Runtime's blocked (NCHWc) CPU kernels need multiples of 16
  (AVX-512; 8 on AVX2), and converts any other tensor to and from NCHW around
  every op;
- ReLUs and residual additions run in place; SE pools with
  ``adaptive_avg_pool2d`` (ONNX ``GlobalAveragePool``, which ONNX Runtime
  keeps in its blocked layout).

The stage outputs are returned in the original channel order, one tensor each.

The Ghost family built on timm (RepGhostNet, GhostNetV2, GhostNetV3,
:class:`~ghostdet.models.TimmGhostBackbone`) gets the part of this that applies
to timm's modules (:func:`timm_ghost_deploy_form`): its re-parameterisable
branches folded by timm's own ``reparameterize_model`` (RepGhost's BN branch
into the depthwise conv, GhostNetV3's parallel convs into one), then every
BatchNorm folded into the conv before it (timm's ``BatchNormAct2d`` keeps its
activation). The channel-layout work above is GhostNet's own (its Ghost
modules concatenate; RepGhost's add) and is not applied to them.
"""
import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_conv_bn_weights

from ..errors import DeployError
from ..models.ghost_blocks import ConvBnAct, GhostBottleneck

#: Ghost module forms (see the module docstring).
GHOST_FORMS = ('concat', 'split')


class ChannelLayout:
    """Where the channels of a feature map are, in a list of tensors.

    Args:
        positions (Sequence[tuple[int, int]]): ``positions[c] == (part, i)``
            puts channel ``c`` of the original feature map at channel ``i``
            of tensor ``part``.
        widths (Sequence[int]): Channels of each tensor; those no position
            names hold zeros or values nothing reads.
    """

    def __init__(self, positions, widths):
        self.positions = [(int(part), int(index)) for part, index in positions]
        self.widths = [int(width) for width in widths]

    @classmethod
    def natural(cls, channels):
        """One tensor, the original order."""
        return cls([(0, c) for c in range(channels)], [channels])

    @property
    def channels(self):
        return len(self.positions)

    def in_part(self, part):
        """``(channels, indices)`` of the channels in tensor ``part``, as
        LongTensors."""
        pairs = [(c, i) for c, (p, i) in enumerate(self.positions) if p == part]
        channels = torch.tensor([c for c, _ in pairs], dtype=torch.long)
        return channels, torch.tensor([i for _, i in pairs], dtype=torch.long)

    def flat_positions(self):
        """Index of every channel in the concatenation of the parts."""
        offsets = [sum(self.widths[:part]) for part in range(len(self.widths))]
        return torch.tensor([offsets[p] + i for p, i in self.positions], dtype=torch.long)

    def is_natural(self):
        return self == ChannelLayout.natural(self.channels)

    def __eq__(self, other):
        return isinstance(other, ChannelLayout) and self.widths == other.widths and \
            self.positions == other.positions

    def __repr__(self):
        return f'ChannelLayout(channels={self.channels}, widths={self.widths})'


def ghost_layout(channels, *, form='concat', align=1):
    """Layout of a deploy-form Ghost module's output of ``channels`` channels:
    the ``ceil(channels / 2)`` intrinsic maps, then the ghosts, each half
    padded to a multiple of ``align``; one tensor (``concat``) or two
    (``split``)."""
    init = math.ceil(channels / 2)
    half = _round_up(init, align)
    ghosts = range(channels - init)
    if form == 'split':
        return ChannelLayout([(0, i) for i in range(init)] + [(1, j) for j in ghosts],
                             [half, half])
    return ChannelLayout([(0, i) for i in range(init)] + [(0, half + j) for j in ghosts],
                         [2 * half])


def _round_up(value, multiple):
    return -(-value // multiple) * multiple


def _fold(conv, bn):
    """Weight and bias of ``conv`` followed by ``bn`` in eval mode."""
    weight, bias = fuse_conv_bn_weights(conv.weight, conv.bias, bn.running_mean, bn.running_var,
                                        bn.eps, bn.weight, bn.bias)
    return weight.detach(), bias.detach()


def _conv(weight, bias, *, stride=1, padding=0, groups=1):
    out_channels, in_per_group, kernel_h, kernel_w = weight.shape
    conv = nn.Conv2d(in_per_group * groups, out_channels, (kernel_h, kernel_w), stride=stride,
                     padding=padding, groups=groups, bias=bias is not None)
    with torch.no_grad():
        conv.weight.copy_(weight)
        if bias is not None:
            conv.bias.copy_(bias)
    return conv


class LayoutConv(nn.Module):
    """A dense conv (groups=1) from one layout to another: output part ``q``
    is the sum over input parts ``p`` of a conv of part ``p``.

    Args:
        weight (Tensor): Weight in the original channel order.
        bias (Tensor, optional): Bias in the original order.
        in_layout (ChannelLayout): Layout of the input.
        out_layout (ChannelLayout): Layout of the output.
        stride, padding: As in ``nn.Conv2d``.
    """

    def __init__(self, weight, bias, in_layout, out_layout, *, stride=1, padding=0):
        super().__init__()
        self.convs = nn.ModuleList()
        self.reads = []  # for each output part, the input parts its convs read
        for out_part, out_width in enumerate(out_layout.widths):
            out_channels, out_index = out_layout.in_part(out_part)
            convs, reads = nn.ModuleList(), []
            for in_part, in_width in enumerate(in_layout.widths):
                in_channels, in_index = in_layout.in_part(in_part)
                if len(in_channels) == 0:
                    continue
                placed = weight.new_zeros(out_width, in_width, *weight.shape[2:])
                placed[out_index[:, None], in_index[None, :]] = \
                    weight[out_channels[:, None], in_channels[None, :]]
                placed_bias = None
                if not reads:  # the bias once, in the first conv
                    placed_bias = weight.new_zeros(out_width)
                    if bias is not None:
                        placed_bias[out_index] = bias[out_channels]
                convs.append(_conv(placed, placed_bias, stride=stride, padding=padding))
                reads.append(in_part)
            self.convs.append(convs)
            self.reads.append(reads)

    def forward(self, parts):
        outputs = []
        for convs, reads in zip(self.convs, self.reads):
            out = convs[0](parts[reads[0]])
            for conv, part in zip(convs[1:], reads[1:]):
                out = out.add_(conv(parts[part]))
            outputs.append(out)
        return outputs


class LayoutDepthwiseConv(nn.Module):
    """A depthwise conv on every part of a layout."""

    def __init__(self, weight, bias, layout, *, stride=1, padding=0):
        super().__init__()
        convs = []
        for part, width in enumerate(layout.widths):
            channels, index = layout.in_part(part)
            placed = weight.new_zeros(width, 1, *weight.shape[2:])
            placed[index] = weight[channels]
            placed_bias = weight.new_zeros(width)
            placed_bias[index] = bias[channels]
            convs.append(_conv(placed, placed_bias, stride=stride, padding=padding,
                               groups=width))
        self.convs = nn.ModuleList(convs)

    def forward(self, parts):
        return [conv(part) for conv, part in zip(self.convs, parts)]


def _activation(act):
    """The deploy form of an activation layer: None for identity, in place
    where the layer allows it."""
    if isinstance(act, nn.Identity):
        return None
    act = copy.copy(act)
    if hasattr(act, 'inplace'):
        act.inplace = True
    return act


def _activate(act, parts):
    return parts if act is None else [act(part) for part in parts]


class DeployGhostModule(nn.Module):
    """A :class:`~ghostdet.models.GhostModule` in deploy form: BatchNorm
    folded, no slice, and no concat in the ``split`` form.

    Args:
        module (GhostModule): The trained module.
        in_layout (ChannelLayout): Layout of its input.
        form (str): One of :data:`GHOST_FORMS`.
        align (int): Pad each half to a multiple of this many channels.
    """

    def __init__(self, module, in_layout, *, form='concat', align=1):
        super().__init__()
        primary_conv, primary_bn, primary_act = module.primary_conv
        cheap_conv, cheap_bn, _ = module.cheap_operation
        init = primary_conv.out_channels
        if cheap_conv.out_channels != init or cheap_conv.groups != init:
            raise DeployError(f'the deploy form supports Ghost modules with ratio=2 only; this '
                              f'one makes {cheap_conv.out_channels} ghosts from {init} maps')
        self.form = form
        self.layout = ghost_layout(module.out_channels, form=form, align=align)
        half = ChannelLayout([(0, i) for i in range(init)], [_round_up(init, align)])
        self.primary = LayoutConv(*_fold(primary_conv, primary_bn), in_layout, half)
        self.cheap = LayoutDepthwiseConv(*_fold(cheap_conv, cheap_bn), half,
                                         padding=cheap_conv.padding)
        self.act = _activation(primary_act)

    def forward(self, parts):
        intrinsic = _activate(self.act, self.primary(parts))
        ghosts = _activate(self.act, self.cheap(intrinsic))
        if self.form == 'split':
            return intrinsic + ghosts
        return [torch.cat(intrinsic + ghosts, dim=1)]


class DeploySqueezeExcite(nn.Module):
    """A :class:`~ghostdet.models.SqueezeExcite` on a layout, pooled with
    ``adaptive_avg_pool2d``."""

    def __init__(self, se, layout):
        super().__init__()
        reduced = ChannelLayout.natural(se.conv_reduce.out_channels)
        self.conv_reduce = LayoutConv(se.conv_reduce.weight.detach(),
                                      se.conv_reduce.bias.detach(), layout, reduced)
        self.act = _activation(se.act)
        self.conv_expand = LayoutConv(se.conv_expand.weight.detach(),
                                      se.conv_expand.bias.detach(), reduced, layout)
        self.gate = _activation(se.gate)

    def forward(self, parts):
        pooled = [F.adaptive_avg_pool2d(part, 1) for part in parts]
        gates = self.conv_expand(_activate(self.act, self.conv_reduce(pooled)))
        return [part.mul_(self.gate(gate)) for part, gate in zip(parts, gates)]


class DeployGhostBottleneck(nn.Module):
    """A :class:`~ghostdet.models.GhostBottleneck` in deploy form.

    Args:
        block (GhostBottleneck): The trained block.
        in_layout (ChannelLayout): Layout of its input; with an identity
            shortcut it must be :func:`ghost_layout` of the output.
        form (str): See :class:`DeployGhostModule`.
        align (int): See :class:`DeployGhostModule`.
    """

    def __init__(self, block, in_layout, *, form='concat', align=1):
        super().__init__()
        options = dict(form=form, align=align)
        self.ghost1 = DeployGhostModule(block.ghost1, in_layout, **options)
        mid = self.ghost1.layout
        self.conv_dw = None
        if block.stride > 1:
            self.conv_dw = LayoutDepthwiseConv(*_fold(block.conv_dw, block.bn_dw), mid,
                                               stride=block.conv_dw.stride,
                                               padding=block.conv_dw.padding)
        self.se = DeploySqueezeExcite(block.se, mid) if block.se is not None else None
        self.ghost2 = DeployGhostModule(block.ghost2, mid, **options)
        self.layout = self.ghost2.layout
        self.shortcut = None
        if len(block.shortcut) == 0:
            if in_layout != self.layout:
                raise DeployError(f'identity shortcut between different layouts: '
                                  f'{in_layout} -> {self.layout}')
        else:
            dw_conv, dw_bn, conv, bn = block.shortcut
            self.shortcut = nn.Sequential(
                LayoutDepthwiseConv(*_fold(dw_conv, dw_bn), in_layout, stride=dw_conv.stride,
                                    padding=dw_conv.padding),
                LayoutConv(*_fold(conv, bn), in_layout, self.layout))

    def forward(self, parts):
        out = self.ghost1(parts)
        if self.conv_dw is not None:
            out = self.conv_dw(out)
        if self.se is not None:
            out = self.se(out)
        out = self.ghost2(out)
        shortcut = parts if self.shortcut is None else self.shortcut(parts)
        return [part.add_(other) for part, other in zip(out, shortcut)]


class DeployConvBnAct(nn.Module):
    """A :class:`~ghostdet.models.ghost_blocks.ConvBnAct` with BN folded."""

    def __init__(self, module, in_layout):
        super().__init__()
        self.layout = ChannelLayout.natural(module.conv.out_channels)
        self.conv = LayoutConv(*_fold(module.conv, module.bn1), in_layout, self.layout,
                               padding=module.conv.padding)
        self.act = _activation(module.act1)

    def forward(self, parts):
        return _activate(self.act, self.conv(parts))


class DeployGhostNet(nn.Module):
    """The deploy form of a trained :class:`ghostdet.models.GhostNet`, for
    inference (see the module docstring). Build it with
    :func:`ghostnet_deploy_form`.

    Args:
        backbone (GhostNet): The trained backbone; it is not changed.
        form (str): How Ghost modules give their two halves, one of
            :data:`GHOST_FORMS`. Default: 'concat'.
        align (int): Pad both halves of every Ghost module to a multiple of
            this many channels (1: no padding). Default: 1.
    """

    def __init__(self, backbone, *, form='concat', align=1):
        super().__init__()
        if form not in GHOST_FORMS:
            raise DeployError(f'unknown Ghost module form {form!r}; use one of {GHOST_FORMS}')
        options = dict(form=form, align=align)
        self.out_indices = backbone.out_indices
        groups = list(backbone.blocks)
        stem_channels = backbone.conv_stem.out_channels
        # An identity shortcut in the first block adds the stem's output to a
        # Ghost module's: then the stem writes that module's layout.
        layout = ghost_layout(stem_channels, **options) if len(groups[0][0].shortcut) == 0 \
            else ChannelLayout.natural(stem_channels)
        self.stem = LayoutConv(*_fold(backbone.conv_stem, backbone.bn1), ChannelLayout.natural(3),
                               layout, stride=backbone.conv_stem.stride,
                               padding=backbone.conv_stem.padding)
        self.stem_act = _activation(backbone.act1)
        blocks, tap_layouts = [], {}
        for index, group in enumerate(groups):
            for block in group:
                if isinstance(block, GhostBottleneck):
                    block = DeployGhostBottleneck(block, layout, **options)
                elif isinstance(block, ConvBnAct):
                    block = DeployConvBnAct(block, layout)
                else:
                    raise DeployError(f'no deploy form for {type(block).__name__} '
                                      f'(blocks.{index})')
                layout = block.layout
                blocks.append(block)
            tap_layouts[len(blocks) - 1] = layout  # the block that ends group `index`
        self.blocks = nn.ModuleList(blocks)
        last_blocks = list(tap_layouts)
        # Output i is taken after block self.taps[i], in layout self.out_layouts[i].
        self.taps = [last_blocks[int(info.module.split('.')[1])]
                     for info in backbone.feature_info]
        self.out_layouts = [tap_layouts[tap] for tap in self.taps]
        # How each output returns to the original order: as it is, its first
        # channels, or a gather.
        self.restore = []
        for i, layout in enumerate(self.out_layouts):
            positions = layout.flat_positions()
            if layout.is_natural():
                self.restore.append('none')
            elif positions.equal(torch.arange(layout.channels)):
                self.restore.append('prefix')
            else:
                self.restore.append('gather')
            self.register_buffer(f'order_{i}', positions, persistent=False)

    def _original_order(self, parts, output):
        x = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        if self.restore[output] == 'none':
            return x
        if self.restore[output] == 'prefix':
            return x[:, :self.out_layouts[output].channels]
        return x.index_select(1, getattr(self, f'order_{output}'))

    def forward(self, x):
        """Return the requested feature maps as a tuple, as the trained
        backbone does."""
        parts = _activate(self.stem_act, self.stem([x]))
        outputs = [None] * len(self.taps)
        for index, block in enumerate(self.blocks):
            parts = block(parts)
            for output, tap in enumerate(self.taps):
                if tap == index:
                    outputs[output] = self._original_order(parts, output)
        return tuple(outputs)


def ghostnet_deploy_form(backbone, *, form='concat', align=1):
    """Build the deploy form of a trained GhostNet (see
    :class:`DeployGhostNet`); the backbone itself is not changed.

    Args:
        backbone (GhostNet): The trained backbone.
        form (str): 'concat' or 'split' (see :class:`DeployGhostModule`).
            Default: 'concat'.
        align (int): Pad Ghost module halves to a multiple of this.
            Default: 1.

    Returns:
        DeployGhostNet: The deploy form, in eval mode.

    Example:
        >>> from ghostdet.models import GhostNet
        >>> backbone = GhostNet(1.1).eval()
        >>> deploy = ghostnet_deploy_form(backbone, form='split', align=16)
        >>> x = torch.rand(1, 3, 64, 64)
        >>> torch.allclose(deploy(x)[3], backbone(x)[3], atol=1e-5)
        True
    """
    with torch.no_grad():
        deploy = DeployGhostNet(backbone, form=form, align=align)
    return deploy.eval()


def fold_batchnorms(module: nn.Module) -> nn.Module:
    """Fold, in place, every BatchNorm that follows a conv among its siblings
    into that conv (what ``mmcv.cnn.fuse_conv_bn`` does), keeping the
    activation of timm's ``BatchNormAct2d`` (mmcv's would drop it). A module
    between the two stops the fold. The module must be in eval mode.

    Returns:
        nn.Module: ``module``.
    """
    from torch.nn.modules.batchnorm import _BatchNorm
    last = None  # (name, conv) of the sibling just before
    for name, child in list(module.named_children()):
        if isinstance(child, _BatchNorm) and last is not None:
            conv_name, conv = last
            module._modules[conv_name] = fuse_conv_bn_eval(conv, child)
            after = [getattr(child, attr) for attr in ('drop', 'act') if hasattr(child, attr)]
            module._modules[name] = nn.Sequential(*after) if after else nn.Identity()
            last = None
        elif isinstance(child, nn.Conv2d):
            last = (name, child)
        else:
            fold_batchnorms(child)
            last = None
    return module


def timm_ghost_deploy_form(backbone):
    """A copy of a trained RepGhostNet, GhostNetV2 or GhostNetV3 for
    inference: timm's ``reparameterize_model`` folds the re-parameterisable
    branches, then :func:`fold_batchnorms` every BatchNorm. The backbone
    itself is not changed.

    Args:
        backbone (TimmGhostBackbone): The trained backbone.

    Returns:
        TimmGhostBackbone: The deploy form, in eval mode; same outputs.
    """
    from timm.utils.model import reparameterize_model
    deploy = copy.deepcopy(backbone).eval()
    with torch.no_grad():
        reparameterize_model(deploy, inplace=True)
        fold_batchnorms(deploy)
    return deploy


#: The deploy form for each runtime: the fastest exact one measured here
#: (docs/benchmarks.md). Both run without concat ('split'): at detection sizes
#: (320 px and up) two convs and an in-place add cost less than a concat, in
#: PyTorch with channels_last as in ONNX Runtime, which also wants
#: 16-channel-aligned tensors for its blocked (NCHWc) kernels.
TARGETS = {
    'torch': dict(form='split', align=1, channels_last=True),
    'onnxruntime': dict(form='split', align=16, channels_last=False),
}


def deploy_model(model, *, target='torch'):
    """A copy of a trained backbone or detector in deploy form for a runtime:
    every GhostNet replaced by :class:`DeployGhostNet` in that runtime's form
    (:data:`TARGETS`), every RepGhostNet, GhostNetV2 and GhostNetV3 by
    :func:`timm_ghost_deploy_form`, every other BatchNorm folded into its conv
    (``mmcv.cnn.fuse_conv_bn``), ReLUs in place, and for ``torch`` the
    weights in channels_last memory format.

    Args:
        model (nn.Module): The trained model; it is not changed.
        target (str): 'torch' or 'onnxruntime'. Default: 'torch'.

    Returns:
        nn.Module: The deploy form, in eval mode.
    """
    from mmcv.cnn import fuse_conv_bn

    from ..models import GhostNet, TimmGhostBackbone
    if target not in TARGETS:
        raise DeployError(f'unknown deploy target {target!r}; use one of {sorted(TARGETS)}')
    settings = TARGETS[target]
    model = copy.deepcopy(model)
    model.eval()  # not chained: mmdet's MobileNetV2.train() returns None
    form = dict(form=settings['form'], align=settings['align'])

    def deploy_form(backbone):
        if isinstance(backbone, GhostNet):
            return ghostnet_deploy_form(backbone, **form)
        return timm_ghost_deploy_form(backbone)

    ghost_types = (GhostNet, TimmGhostBackbone)
    if isinstance(model, ghost_types):
        model = deploy_form(model)
    else:
        backbones = [name for name, module in model.named_modules()
                     if isinstance(module, ghost_types)]
        for name in backbones:
            parent, _, child = name.rpartition('.')
            setattr(model.get_submodule(parent), child, deploy_form(model.get_submodule(name)))
        with torch.no_grad():
            model = fuse_conv_bn(model)
    for module in model.modules():
        if isinstance(module, (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.Hardsigmoid)):
            module.inplace = True
    if settings['channels_last']:
        model = model.to(memory_format=torch.channels_last)
    return model
