"""Public ImageNet checkpoints of the backbones, described as data.

Like torchvision's ``WeightsEnum``, each entry says where a checkpoint comes
from and what is in it; the COCO configs give these URLs as their backbones'
``init_cfg`` and a test holds the two together. No public GhostNet weights
exist at 1.1x, the paper's detection width: pretrain them with
``configs/pretrain/`` and point the config at :data:`GHOSTNET_1_1X_PRETRAIN`.
"""
from typing import NamedTuple, Optional


class PublicCheckpoint(NamedTuple):
    """A public ImageNet checkpoint a backbone can be initialized from.

    Attributes:
        name (str): Short name.
        backbone (str): Registry type of the backbone it initializes.
        widen_factor (float): Width of that backbone.
        url (str): Where it is downloaded from (``init_cfg.checkpoint``).
        source (str): Who publishes it.
        num_tensors (int, optional): Tensors in the file, classifier
            included; None where this project could not count them.
        imagenet_top1 (float): Published ImageNet-1k top-1 accuracy (%).
    """
    name: str
    backbone: str
    widen_factor: float
    url: str
    source: str
    num_tensors: Optional[int]
    imagenet_top1: float


GHOSTNET_1_0X_OFFICIAL = PublicCheckpoint(
    name='ghostnet_1.0x_official',
    backbone='GhostNet',
    widen_factor=1.0,
    url='https://github.com/huawei-noah/ghostnet/raw/master/ghostnet_pytorch/models/'
    'state_dict_73.98.pth',
    source='huawei-noah/ghostnet (official PyTorch code); timm ghostnet_100.in1k is the same '
    'network with the same key names',
    # timm's ghostnet_100 state dict: the trunk's 508 tensors (weights, biases and
    # BatchNorm statistics) plus conv_head and classifier weights and biases.
    num_tensors=512,
    imagenet_top1=73.98)

TV_MOBILENET_V3_LARGE = PublicCheckpoint(
    name='mobilenet_v3_large.IMAGENET1K_V1',
    backbone='TVMobileNetV3',
    widen_factor=1.0,
    url='https://download.pytorch.org/models/mobilenet_v3_large-8738ca79.pth',
    source='torchvision (MobileNet_V3_Large_Weights.IMAGENET1K_V1)',
    num_tensors=312,
    imagenet_top1=74.042)

MMDET_MOBILENET_V2 = PublicCheckpoint(
    name='mmdet/mobilenet_v2',
    backbone='MobileNetV2',
    widen_factor=1.0,
    url='open-mmlab://mmdet/mobilenet_v2',
    source="OpenMMLab (MMDetection's own MobileNetV2 configs use it)",
    num_tensors=None,
    imagenet_top1=71.86)

PUBLIC_CHECKPOINTS = {
    entry.name: entry
    for entry in (GHOSTNET_1_0X_OFFICIAL, TV_MOBILENET_V3_LARGE, MMDET_MOBILENET_V2)
}

#: Where ``configs/pretrain/ghostnet-1.1x_8xb128_in1k.py`` leaves its last
#: checkpoint, which the GhostNet 1.1x COCO configs load.
GHOSTNET_1_1X_PRETRAIN = 'work_dirs/ghostnet-1.1x_8xb128_in1k/epoch_400.pth'
