# Faster R-CNN + FPN on GhostNetV3 1.0x (arXiv 2404.11202, re-parameterised
# branches; ~77% ImageNet top-1), with its public ImageNet weights; MS-COCO 2017,
# 1x schedule. The GhostNet paper's recipe (faster_rcnn_ghostnet.py): only the backbone,
# its weights and the FPN inputs differ.
_base_ = './faster_rcnn_ghostnet.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='GhostNetV3',
        widen_factor=1.0,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_eval=True,
        # timm's ghostnetv3_100.in1k (model.safetensors, read without pickle).
        # Zoo entry: ghostdet.checkpoint.PUBLIC_CHECKPOINTS['ghostnetv3_100.in1k'].
        # Loading is strict and weights-only; other weights:
        # --cfg-options model.backbone.init_cfg.checkpoint=PATH
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://huggingface.co/timm/ghostnetv3_100.in1k/resolve/main/'
            'model.safetensors')),
    # GhostNetV3.stage_channels(1.0)[:4]: the stage ends at strides 4/8/16/32.
    neck=dict(in_channels=[24, 40, 112, 160]))

work_dir = './work_dirs/faster_rcnn_ghostnetv3_1.0x'
