"""Public ImageNet checkpoints of the backbones, described as data.

Like torchvision's ``WeightsEnum``, each entry says where a checkpoint comes
from and what is in it; the COCO configs give these URLs as their backbones'
``init_cfg`` and a test holds the two together. The Ghost family's weights
(RepGhostNet, GhostNetV2, GhostNetV3) are timm's ``.in1k`` files on the
Hugging Face Hub (``model.safetensors``; ``pytorch_model.bin`` beside it loads
too) and, for RepGhostNet, the authors' own checkpoints. No public GhostNet weights
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

def _timm_in1k(name: str, *, backbone: str, widen_factor: float,
               imagenet_top1: float) -> PublicCheckpoint:
    """timm's ``NAME`` weights on the Hugging Face Hub, as published
    (``model.safetensors``; the same weights are also ``pytorch_model.bin``)."""
    return PublicCheckpoint(
        name=name, backbone=backbone, widen_factor=widen_factor,
        url=f'https://huggingface.co/timm/{name}/resolve/main/model.safetensors',
        source=f"timm (Hugging Face Hub timm/{name}, converted from the authors' release; "
        'the same file is also published as pytorch_model.bin)',
        num_tensors=None, imagenet_top1=imagenet_top1)


def _repghost_release(name: str, file: str, *, widen_factor: float,
                      imagenet_top1: float) -> PublicCheckpoint:
    """The RepGhost authors' release, at the address timm 1.0.31's source
    names (their readme links the same files on Google Drive and Baidu): timm
    train.py checkpoints whose EMA weights (``state_dict_ema``) are the
    published ones."""
    return PublicCheckpoint(
        name=name, backbone='RepGhostNet', widen_factor=widen_factor,
        url='https://github.com/ChengpengChen/RepGhost/releases/download/RepGhost/' + file,
        source='ChengpengChen/RepGhost (official code and checkpoints)',
        num_tensors=None, imagenet_top1=imagenet_top1)


# Top-1: RepGhostNet's from the official table (RepGhost readme; timm's files
# are the same weights), GhostNetV2's and V3's from their papers at 1.0x.
REPGHOSTNET_1_11X_TIMM = _timm_in1k('repghostnet_111.in1k', backbone='RepGhostNet',
                                    widen_factor=1.11, imagenet_top1=75.07)
REPGHOSTNET_1_11X_OFFICIAL = _repghost_release(
    'repghostnet_1_11x_official', 'repghostnet_1_11x_170M_75.07.pth.tar', widen_factor=1.11,
    imagenet_top1=75.07)
REPGHOSTNET_1_0X_TIMM = _timm_in1k('repghostnet_100.in1k', backbone='RepGhostNet',
                                   widen_factor=1.0, imagenet_top1=74.22)
REPGHOSTNET_1_0X_OFFICIAL = _repghost_release(
    'repghostnet_1_0x_official', 'repghostnet_1_0x_142M_74.22.pth.tar', widen_factor=1.0,
    imagenet_top1=74.22)
GHOSTNETV2_1_0X_TIMM = _timm_in1k('ghostnetv2_100.in1k', backbone='GhostNetV2',
                                  widen_factor=1.0, imagenet_top1=75.3)
GHOSTNETV3_1_0X_TIMM = _timm_in1k('ghostnetv3_100.in1k', backbone='GhostNetV3',
                                  widen_factor=1.0, imagenet_top1=77.1)

PUBLIC_CHECKPOINTS = {
    entry.name: entry
    for entry in (GHOSTNET_1_0X_OFFICIAL, TV_MOBILENET_V3_LARGE, MMDET_MOBILENET_V2,
                  REPGHOSTNET_1_11X_TIMM, REPGHOSTNET_1_11X_OFFICIAL, REPGHOSTNET_1_0X_TIMM,
                  REPGHOSTNET_1_0X_OFFICIAL, GHOSTNETV2_1_0X_TIMM, GHOSTNETV3_1_0X_TIMM)
}

#: Where ``configs/pretrain/ghostnet-1.1x_8xb128_in1k.py`` leaves its last
#: checkpoint, which the GhostNet 1.1x COCO configs load.
GHOSTNET_1_1X_PRETRAIN = 'work_dirs/ghostnet-1.1x_8xb128_in1k/epoch_400.pth'
