"""The models the benchmark compares, built with random weights (nothing is
downloaded): the backbones of the three RetinaNet COCO configs and timm's
GhostNet 1.1x, the detectors of the six COCO configs and of the demo config,
two torchvision detectors users pick instead, and the Ghost family's
backbones and RetinaNets (RepGhostNet 1.11x, GhostNetV2 1.0x, GhostNetV3 1.0x).

Backbones and MMDetection detectors are built from the configs through
MMDetection's registry, so a renamed backbone class costs nothing here.
"""
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from ..errors import InputError

#: Named input sizes, (height, width).
SIZES = {'224': (224, 224), '320': (320, 320), '640': (640, 640), '800x1333': (800, 1333)}


@dataclass(frozen=True)
class ModelSpec:
    """One model of the benchmark.

    Args:
        name (str): Name on the command line and in the table.
        kind (str): 'backbone' or 'detector'.
        label (str): Human-readable name.
        source (str): A config path, or 'timm:...' / 'torchvision:...'.
        reference (str): The GhostNet 1.1x model its ratios are against.
        sizes (tuple[str]): Sizes it runs at by default.
        native_sizes (tuple[str]): The only sizes it can run at (a
            torchvision detector resizes its input itself); empty: any.
    """

    name: str
    kind: str
    label: str
    source: str
    reference: str
    sizes: tuple = ()
    native_sizes: tuple = field(default=())

    @property
    def is_mmdet(self):
        return self.source.endswith('.py')


_BACKBONE_SIZES = ('224', '320', '640', '800x1333')
_COCO_SIZES = ('800x1333', )

SPECS = [
    ModelSpec('ghostnet', 'backbone', 'GhostNet 1.1x', 'configs/retinanet_ghostnet.py',
              'ghostnet', _BACKBONE_SIZES),
    ModelSpec('timm_ghostnet', 'backbone', 'GhostNet 1.1x (timm)', 'timm:ghostnet_100@1.1',
              'ghostnet', _BACKBONE_SIZES),
    ModelSpec('mobilenetv3', 'backbone', 'MobileNetV3-Large', 'configs/retinanet_mobilenetv3.py',
              'ghostnet', _BACKBONE_SIZES),
    ModelSpec('mobilenetv2', 'backbone', 'MobileNetV2', 'configs/retinanet_mobilenetv2.py',
              'ghostnet', _BACKBONE_SIZES),
    ModelSpec('repghostnet', 'backbone', 'RepGhostNet 1.11x',
              'configs/retinanet_repghostnet_1.11x.py', 'ghostnet', _BACKBONE_SIZES),
    ModelSpec('ghostnetv2', 'backbone', 'GhostNetV2 1.0x', 'configs/retinanet_ghostnetv2_1.0x.py',
              'ghostnet', _BACKBONE_SIZES),
    ModelSpec('ghostnetv3', 'backbone', 'GhostNetV3 1.0x', 'configs/retinanet_ghostnetv3_1.0x.py',
              'ghostnet', _BACKBONE_SIZES),
    ModelSpec('retinanet_ghostnet', 'detector', 'RetinaNet GhostNet 1.1x',
              'configs/retinanet_ghostnet.py', 'retinanet_ghostnet', _COCO_SIZES),
    ModelSpec('retinanet_mobilenetv3', 'detector', 'RetinaNet MobileNetV3-L',
              'configs/retinanet_mobilenetv3.py', 'retinanet_ghostnet', _COCO_SIZES),
    ModelSpec('retinanet_mobilenetv2', 'detector', 'RetinaNet MobileNetV2',
              'configs/retinanet_mobilenetv2.py', 'retinanet_ghostnet', _COCO_SIZES),
    ModelSpec('retinanet_repghostnet', 'detector', 'RetinaNet RepGhostNet 1.11x',
              'configs/retinanet_repghostnet_1.11x.py', 'retinanet_ghostnet', _COCO_SIZES),
    ModelSpec('retinanet_ghostnetv2', 'detector', 'RetinaNet GhostNetV2 1.0x',
              'configs/retinanet_ghostnetv2_1.0x.py', 'retinanet_ghostnet', _COCO_SIZES),
    ModelSpec('retinanet_ghostnetv3', 'detector', 'RetinaNet GhostNetV3 1.0x',
              'configs/retinanet_ghostnetv3_1.0x.py', 'retinanet_ghostnet', _COCO_SIZES),
    ModelSpec('faster_rcnn_ghostnet', 'detector', 'Faster R-CNN GhostNet 1.1x',
              'configs/faster_rcnn_ghostnet.py', 'faster_rcnn_ghostnet', _COCO_SIZES),
    ModelSpec('faster_rcnn_mobilenetv3', 'detector', 'Faster R-CNN MobileNetV3-L',
              'configs/faster_rcnn_mobilenetv3.py', 'faster_rcnn_ghostnet', _COCO_SIZES),
    ModelSpec('faster_rcnn_mobilenetv2', 'detector', 'Faster R-CNN MobileNetV2',
              'configs/faster_rcnn_mobilenetv2.py', 'faster_rcnn_ghostnet', _COCO_SIZES),
    ModelSpec('retinanet_ghostnet_small', 'detector', 'RetinaNet GhostNet 1.1x (demo)',
              'configs/retinanet_ghostnet_small.py', 'retinanet_ghostnet_small', ('320', '640')),
    ModelSpec('tv_fasterrcnn_mobilenet_v3_large_fpn', 'detector',
              'torchvision fasterrcnn_mobilenet_v3_large_fpn',
              'torchvision:fasterrcnn_mobilenet_v3_large_fpn', 'faster_rcnn_ghostnet',
              ('800x1333', ), native_sizes=('800x1333', )),
    ModelSpec('tv_ssdlite320_mobilenet_v3_large', 'detector',
              'torchvision ssdlite320_mobilenet_v3_large',
              'torchvision:ssdlite320_mobilenet_v3_large', 'retinanet_ghostnet_small', ('320', ),
              native_sizes=('320', )),
]
SPEC_BY_NAME = {spec.name: spec for spec in SPECS}
GROUPS = {
    'backbones': [s.name for s in SPECS if s.kind == 'backbone'],
    'detectors': [s.name for s in SPECS if s.kind == 'detector'],
    'all': [s.name for s in SPECS],
}


def select_models(names):
    """Specs for model and group names (see :data:`GROUPS`), in table order.

    Raises:
        InputError: An unknown name.
    """
    wanted = set()
    for name in names:
        if name in GROUPS:
            wanted.update(GROUPS[name])
        elif name in SPEC_BY_NAME:
            wanted.add(name)
        else:
            raise InputError(f'unknown model {name!r}; use one of {sorted(SPEC_BY_NAME)} or a '
                             f'group: {sorted(GROUPS)}')
    return [spec for spec in SPECS if spec.name in wanted]


def parse_size(text):
    """``'640'`` -> (640, 640); ``'800x1333'`` -> (800, 1333) (height x
    width).

    Raises:
        InputError: Not a size.
    """
    try:
        parts = [int(part) for part in str(text).lower().split('x')]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or min(parts) < 32:
        raise InputError(f'size {text!r} is not N or HxW (pixels, at least 32), e.g. 640 or '
                         '800x1333')
    return (parts[0], parts[-1])


def _mmdet_registry():
    from mmdet.registry import MODELS

    from ..models import register_all_modules
    register_all_modules()
    return MODELS


def _config(path):
    from mmengine.config import Config
    return Config.fromfile(path)


# Not create_feature_extractor: it runs an FX re-trace returning a dict, not timm's eager modules.
class TimmGhostNetTaps(nn.Module):
    """timm's GhostNet with the detection taps of ghostdet's backbone (the
    ends of ``blocks.2/4/6/8``): the same computation, timm's code."""

    def __init__(self, width):
        super().__init__()
        from timm.models import ghostnet
        self.model = ghostnet._create_ghostnet('ghostnet_100', width=width)
        self.model.blocks = self.model.blocks[:9]

    def forward(self, x):
        model = self.model
        x = model.act1(model.bn1(model.conv_stem(x)))
        outputs = []
        for index, block in enumerate(model.blocks):
            x = block(x)
            if index in (2, 4, 6, 8):
                outputs.append(x)
        return tuple(outputs)


@contextmanager
def _quiet_mmengine():
    """Without MMEngine's INFO lines (init_weights logs every parameter)."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def build_model(spec, seed=0):
    """Build a model in eval mode with seeded random weights.

    Returns:
        nn.Module: A backbone (tensor in, tuple of tensors out), an
        MMDetection detector, or a torchvision detector.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if spec.source.startswith('timm:'):
            name, width = spec.source[len('timm:'):].split('@')
            model = TimmGhostNetTaps(float(width))
        elif spec.source.startswith('torchvision:'):
            from torchvision.models import detection
            builder = getattr(detection, spec.source[len('torchvision:'):])
            model = builder(weights=None, weights_backbone=None)
        elif spec.kind == 'backbone':
            cfg = dict(_config(spec.source).model.backbone)
            cfg.pop('_delete_', None)
            model = _mmdet_registry().build(cfg)  # building does not load init_cfg's weights
        else:
            cfg = _config(spec.source).model
            # The heads' own initialisation (their score priors set how many
            # boxes reach NMS), without the backbone's pretrained file; the
            # freezing options only matter in training.
            cfg.backbone.update(init_cfg=None, frozen_stages=-1, norm_eval=False)
            model = _mmdet_registry().build(cfg)
            with _quiet_mmengine():
                model.init_weights()
    model.eval()  # not chained: mmdet's MobileNetV2.train() returns None
    return model


def config_of(spec):
    """The MMDetection config of a spec (None for timm/torchvision)."""
    return _config(spec.source) if spec.is_mmdet else None
