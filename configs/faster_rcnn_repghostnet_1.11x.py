# Faster R-CNN + FPN on RepGhostNet 1.11x (RepGhost, arXiv 2211.06088; GhostNet
# 1.1x's counterpart: 170 MFLOPs, 75.1% ImageNet top-1), with its public ImageNet
# weights; MS-COCO 2017, 1x schedule. The GhostNet paper's recipe
# (faster_rcnn_ghostnet.py): only the backbone, its weights and the FPN inputs differ.
_base_ = './faster_rcnn_ghostnet.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='RepGhostNet',
        widen_factor=1.11,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_eval=True,
        # timm's repghostnet_111.in1k (model.safetensors, read without pickle). The
        # authors' checkpoint loads too: --cfg-options model.backbone.init_cfg.checkpoint=
        # https://github.com/ChengpengChen/RepGhost/releases/download/RepGhost/
        # repghostnet_1_11x_170M_75.07.pth.tar (one URL).
        # Zoo entry: ghostdet.checkpoint.PUBLIC_CHECKPOINTS['repghostnet_111.in1k'].
        # Loading is strict and weights-only; other weights:
        # --cfg-options model.backbone.init_cfg.checkpoint=PATH
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://huggingface.co/timm/repghostnet_111.in1k/resolve/main/'
            'model.safetensors')),
    # RepGhostNet.stage_channels(1.11)[:4]: the stage ends at strides 4/8/16/32.
    neck=dict(in_channels=[28, 44, 124, 176]))

work_dir = './work_dirs/faster_rcnn_repghostnet_1.11x'
