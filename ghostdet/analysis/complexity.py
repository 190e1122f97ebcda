"""Multiply-adds and parameters of backbones and detectors, counted as the
GhostNet paper counts FLOPs: the multiply-adds of convolutions and linear
layers (and matrix products) only; no norm layers, activations, additions,
pooling or upsampling.

Nothing here needs a dataset or a GPU: models are built from configs and run
once on a random tensor on the CPU, traced by MMEngine's ``FlopAnalyzer``.
"""
import os.path as osp
from typing import Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import (addmm_flop_jit, bmm_flop_jit, conv_flop_jit,
                                           einsum_flop_jit, linear_flop_jit,
                                           matmul_flop_jit)
from mmengine.config import Config

from ..errors import InputError
from ..models import register_all_modules

# The ops whose multiply-adds are counted, with MMEngine's handles. By default
# MMEngine 0.10.7 also counts batch_norm, group/layer/instance_norm, upsampling,
# adaptive_avg_pool2d and grid_sampler, and ``set_op_handle(op, None)`` does not
# drop a registered handle (it only adds the op to an ignore list the handle
# wins over): so the analyzer starts from no handles and gets only these.
# Elementwise ops (add, mul, hardswish, hardsigmoid, mean, ...) never count.
MAC_HANDLES = {
    'aten::_convolution': conv_flop_jit,
    'aten::linear': linear_flop_jit,
    'aten::addmm': addmm_flop_jit,
    'aten::matmul': matmul_flop_jit,
    'aten::mm': matmul_flop_jit,
    'aten::bmm': bmm_flop_jit,
    'aten::einsum': einsum_flop_jit,
}


def _mobilenet_v3_classifier(backbone):
    from torchvision.models import mobilenet_v3_large
    return mobilenet_v3_large(weights=None, width_mult=backbone.widen_factor).classifier


# What the paper's "backbone FLOPs @224" column counts, by backbone type: the
# ``out_indices`` that build the ImageNet trunk up to and including its last
# 1x1 conv, and the classifier layers after it that are counted too (if any).
#
# GhostNet 1.1x: blocks.0-9 (164M); conv_head and classifier excluded (with
# them 167M, which is not the paper's number). MobileNetV2: layer1-7 + conv2,
# the 1x1 conv to 1280 (299.5M; its 1280x1000 classifier adds 1.3M, inside the
# paper's rounding to 300M either way). MobileNetV3-Large: the paper quotes the
# MobileNetV3 paper's 219M, a whole-classifier count. features.0-16 alone are
# 214.1M (2.2% short); MobileNetV3's "1x1 conv to 1280" runs after the pooling
# and is a Linear in torchvision (960 -> 1280), followed by the 1280 -> 1000
# classifier: with both, 216.6M, 1.1% under 219M and next to the 217M others
# quote for the same network (e.g. pytorch-image-models issue #134). So that
# trunk includes them.
TRUNKS = {
    'GhostNet': dict(out_indices=(4, ), head=None,
                     layers='blocks.0-9 (no conv_head, no classifier)'),
    'MobileNetV2': dict(out_indices=(7, ), head=None,
                        layers='conv1, layer1-7, conv2 (1x1 to 1280); no classifier'),
    'TVMobileNetV3': dict(out_indices=(4, ), head=_mobilenet_v3_classifier,
                        layers='features.0-16 + classifier Linears 960-1280-1000 '
                        '(as the MobileNetV3 paper counts its 219M)'),
}
# The Ghost family (timm's modules): GhostNet's trunk, counted in the
# re-parameterised inference form their papers count (GhostNetV3's training
# form runs three parallel convs per branch; RepGhost's BN branch has no MACs).
for _name in ('RepGhostNet', 'GhostNetV2', 'GhostNetV3'):
    TRUNKS[_name] = dict(out_indices=(4, ), head=None, reparameterize=True,
                         layers='blocks.0-9, re-parameterised (no conv_head, no classifier)')


class _Trunk(nn.Module):
    """The last output of a backbone, then optionally pooling and a head."""

    def __init__(self, backbone, head=None):
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x):
        x = self.backbone(x)[-1]
        if self.head is not None:
            x = self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
        return x


class _DetectorForward(nn.Module):
    """A detector's ``_forward`` (backbone, neck and heads, no post-processing
    of the final outputs) with fixed image metas, so it can be traced."""

    def __init__(self, detector, data_samples):
        super().__init__()
        self.detector = detector
        self.data_samples = data_samples

    def forward(self, inputs):
        return self.detector._forward(inputs, self.data_samples)


def mac_analyzer(model, inputs):
    """MMEngine's ``FlopAnalyzer`` set to count the multiply-adds of convs,
    linear layers and matrix products only, quietly.

    Args:
        model (nn.Module): The model; it is run as ``model(*inputs)``.
        inputs (Tensor or tuple[Tensor]): Its inputs.

    Returns:
        FlopAnalyzer: The analyzer (the model runs when a count is asked).
    """
    analyzer = FlopAnalyzer(model, inputs)
    analyzer.clear_op_handles()
    analyzer.set_op_handle(**MAC_HANDLES)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    analyzer.tracer_warnings('none')
    return analyzer


def count_macs(model: nn.Module, inputs) -> int:
    """Multiply-adds of the convs, linear layers and matrix products in one
    forward pass (one multiply-add counts one).

    Args:
        model (nn.Module): The model; it is run as ``model(*inputs)``.
        inputs (Tensor or tuple[Tensor]): Its inputs.

    Returns:
        int: The multiply-adds.
    """
    return mac_analyzer(model, inputs).total()


def count_params(model: nn.Module, skip=()) -> int:
    """Parameters of the conv and linear layers (weights and biases); norm
    layers are left out, as they fold into the convs for inference.

    Args:
        model (nn.Module): The model.
        skip (Container[str]): Names of modules to leave out, with their
            children, e.g. those a forward pass does not call. Default: ().

    Returns:
        int: The number of parameters.
    """
    layers = (nn.modules.conv._ConvNd, nn.Linear)
    skipped = tuple(f'{name}.' for name in skip)
    return sum(param.numel() for name, module in model.named_modules()
               if isinstance(module, layers) and not f'{name}.'.startswith(skipped)
               for param in module.parameters(recurse=False))


def _build_backbone(backbone_cfg, **overrides):
    from mmdet.registry import MODELS
    register_all_modules()
    cfg = dict(backbone_cfg)  # building does not load its init_cfg's weights
    cfg.pop('_delete_', None)
    cfg.update(overrides)
    backbone = MODELS.build(cfg)
    backbone.eval()  # mmdet's MobileNetV2.train() returns None
    return backbone


def _complexity(model, input_shape):
    analyzer = mac_analyzer(model, (torch.rand(1, 3, *input_shape), ))
    with torch.no_grad():
        macs = analyzer.total()
    # Only layers that run: mmdet's MobileNetV2 builds its final 1x1 conv even
    # when no output needs it.
    return dict(macs=macs, params=count_params(model, analyzer.uncalled_modules()))


def trunk_complexity(backbone_cfg: dict, *, input_shape: Tuple[int, int] = (224, 224)) -> dict:
    """Complexity of a backbone's ImageNet trunk as the paper counts it (see
    :data:`TRUNKS`), whatever outputs the config asks for.

    Args:
        backbone_cfg (dict): Backbone config (``cfg.model.backbone``); its
            type must be one of :data:`TRUNKS`.
        input_shape (tuple[int]): Input height and width. Default: (224, 224).

    Returns:
        dict: ``macs`` and ``params`` (see :func:`count_macs` and
        :func:`count_params`), and ``layers``, the layers counted.
    """
    kind = backbone_cfg['type']
    if kind not in TRUNKS:
        raise InputError(f'no ImageNet trunk is defined for backbone type {kind!r}; '
                         f'known types: {sorted(TRUNKS)}')
    trunk = TRUNKS[kind]
    backbone = _build_backbone(backbone_cfg, out_indices=trunk['out_indices'])
    if trunk.get('reparameterize'):
        from ..deploy.fuse import timm_ghost_deploy_form
        backbone = timm_ghost_deploy_form(backbone)
    head = trunk['head'](backbone) if trunk['head'] is not None else None
    result = _complexity(_Trunk(backbone, head), input_shape)
    return dict(result, layers=trunk['layers'])


def backbone_complexity(backbone_cfg: dict,
                        *,
                        input_shape: Tuple[int, int] = (224, 224)) -> dict:
    """Complexity of a backbone as configured (its ``out_indices``).

    Args:
        backbone_cfg (dict): Backbone config (``cfg.model.backbone``).
        input_shape (tuple[int]): Input height and width. Default: (224, 224).

    Returns:
        dict: ``macs`` and ``params``.
    """
    return _complexity(_build_backbone(backbone_cfg), input_shape)


def _load_config(config):
    return config if isinstance(config, Config) else Config.fromfile(config)


def detector_complexity(config: Union[str, Config],
                        *,
                        input_shape: Tuple[int, int] = (800, 1333)) -> dict:
    """Complexity of a whole detector: backbone, neck and heads on one image
    of ``input_shape`` (not padded), without post-processing. Two-stage
    detectors count their RoI head on the proposals the RPN gives a random
    image with random weights (up to ``test_cfg.rpn.max_per_img``).

    Args:
        config (str or Config): Detector config or its path.
        input_shape (tuple[int]): Input height and width.
            Default: (800, 1333).

    Returns:
        dict: ``macs`` and ``params``.
    """
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample
    register_all_modules()
    cfg = _load_config(config)
    height, width = input_shape
    sample = DetDataSample(metainfo=dict(
        img_shape=(height, width), ori_shape=(height, width), pad_shape=(height, width),
        batch_input_shape=(height, width), scale_factor=(1.0, 1.0)))
    # Seeded: the proposals, hence the RoI head's count, depend on the weights.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        detector = MODELS.build(cfg.model)
        detector.eval()
        return _complexity(_DetectorForward(detector, [sample]), input_shape)


def config_complexity(config: Union[str, Config],
                      *,
                      detector_shape: Tuple[int, int] = (800, 1333),
                      backbone_shape: Tuple[int, int] = (224, 224)) -> dict:
    """The three counts of :func:`complexity_table` for one config.

    Args:
        config (str or Config): Detector config or its path.
        detector_shape (tuple[int]): Input of the whole detector.
            Default: (800, 1333).
        backbone_shape (tuple[int]): Input of the trunk and the backbone.
            Default: (224, 224).

    Returns:
        dict: ``trunk``, ``backbone`` and ``detector``, each a dict with
        ``macs`` and ``params``.
    """
    cfg = _load_config(config)
    backbone_cfg = cfg.model.backbone.to_dict()
    return dict(trunk=trunk_complexity(backbone_cfg, input_shape=backbone_shape),
                backbone=backbone_complexity(backbone_cfg, input_shape=backbone_shape),
                detector=detector_complexity(cfg, input_shape=detector_shape))


def format_count(value):
    """Format a count with a G, M or K suffix: ``164.4M``, ``3.22M``."""
    for scale, suffix in ((1e9, 'G'), (1e6, 'M'), (1e3, 'K')):
        if value >= scale:
            digits = 1 if suffix == 'M' and value >= 1e8 else 2
            return f'{value / scale:.{digits}f}{suffix}'
    return str(value)


def complexity_table(configs: Sequence[Union[str, Config]],
                     *,
                     detector_shape: Tuple[int, int] = (800, 1333),
                     backbone_shape: Tuple[int, int] = (224, 224)) -> str:
    """A text table of :func:`config_complexity`, one row per config, and
    under it the layers each backbone type's trunk counts.

    Args:
        configs (list[str or Config]): Detector configs or their paths.
        detector_shape (tuple[int]): Input of the whole detector.
            Default: (800, 1333).
        backbone_shape (tuple[int]): Input of the trunk and the backbone.
            Default: (224, 224).

    Returns:
        str: The table.
    """
    size = 'x'.join(map(str, backbone_shape))
    header = ['config', 'backbone', f'trunk MACs@{size}', 'trunk params',
              f'backbone MACs@{size}', 'backbone params',
              f'detector MACs@{"x".join(map(str, detector_shape))}', 'detector params']
    rows, kinds = [], {}
    for config in configs:
        cfg = _load_config(config)
        name = osp.splitext(osp.basename(cfg.filename))[0] if cfg.filename else '?'
        counts = config_complexity(cfg, detector_shape=detector_shape,
                                   backbone_shape=backbone_shape)
        backbone = cfg.model.backbone
        kind = f"{backbone.type} {backbone.get('widen_factor', 1.0)}x"
        kinds[backbone.type] = counts['trunk']['layers']
        rows.append([name, kind] + [format_count(counts[part][key])
                                    for part in ('trunk', 'backbone', 'detector')
                                    for key in ('macs', 'params')])
    widths = [max(len(row[i]) for row in [header] + rows) for i in range(len(header))]
    lines = ['  '.join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
             for row in [header] + rows]
    lines.insert(1, '  '.join('-' * width for width in widths))
    lines.append('')
    lines.append('MACs: multiply-adds of convs and linear layers only; params: of those '
                 'layers. Backbone: as configured (its out_indices). Detector: backbone, '
                 'neck and heads, no post-processing.')
    lines.append('Trunk: the ImageNet trunk, as the paper counts backbone FLOPs:')
    lines += [f'  {kind}: {layers}' for kind, layers in kinds.items()]
    return '\n'.join(lines)
