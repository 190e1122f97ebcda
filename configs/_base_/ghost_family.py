# The Ghost family's backbones for the COCO configs, one dict each: the GhostNet
# paper's recipe (stage 1 frozen, BatchNorm statistics kept) with the public ImageNet
# weights, and the FPN inputs that match (<Backbone>.stage_channels(width)[:4], the
# stage ends at strides 4/8/16/32). A detector config names one:
#   _base_ = ['./retinanet_ghostnet.py', './_base_/ghost_family.py']
#   model = dict(backbone={{_base_.repghostnet_111}},
#                neck=dict(in_channels={{_base_.repghostnet_111_channels}}))
# Weights load strictly and weights-only (timm's model.safetensors is read without
# pickle); other weights: --cfg-options model.backbone.init_cfg.checkpoint=PATH.
# Zoo entries: ghostdet.checkpoint.PUBLIC_CHECKPOINTS['<timm name>.in1k'].

# RepGhostNet 1.11x (arXiv 2211.06088): GhostNet 1.1x's counterpart, 170 MFLOPs,
# 75.1% top-1. The authors' checkpoint loads too:
# --cfg-options model.backbone.init_cfg.checkpoint=https://github.com/ChengpengChen/
# RepGhost/releases/download/RepGhost/repghostnet_1_11x_170M_75.07.pth.tar (one URL)
repghostnet_111 = dict(
    _delete_=True, type='RepGhostNet', widen_factor=1.11, out_indices=(0, 1, 2, 3),
    frozen_stages=1, norm_eval=True,
    init_cfg=dict(type='Pretrained',
                  checkpoint='https://huggingface.co/timm/repghostnet_111.in1k/resolve/main/'
                  'model.safetensors'))
repghostnet_111_channels = [28, 44, 124, 176]

# GhostNetV2 1.0x (NeurIPS 2022, DFC attention): 75.3% top-1.
ghostnetv2_100 = dict(
    _delete_=True, type='GhostNetV2', widen_factor=1.0, out_indices=(0, 1, 2, 3),
    frozen_stages=1, norm_eval=True,
    init_cfg=dict(type='Pretrained',
                  checkpoint='https://huggingface.co/timm/ghostnetv2_100.in1k/resolve/main/'
                  'model.safetensors'))
ghostnetv2_100_channels = [24, 40, 112, 160]

# GhostNetV3 1.0x (arXiv 2404.11202, re-parameterised branches): ~77% top-1.
ghostnetv3_100 = dict(
    _delete_=True, type='GhostNetV3', widen_factor=1.0, out_indices=(0, 1, 2, 3),
    frozen_stages=1, norm_eval=True,
    init_cfg=dict(type='Pretrained',
                  checkpoint='https://huggingface.co/timm/ghostnetv3_100.in1k/resolve/main/'
                  'model.safetensors'))
ghostnetv3_100_channels = [24, 40, 112, 160]
