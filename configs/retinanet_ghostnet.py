# RetinaNet + FPN on GhostNet 1.1x, MS-COCO 2017, 1x schedule (12 epochs), as in
# the GhostNet paper (Table 9: 26.6 bbox mAP with an ImageNet-pretrained 1.1x).
# Everything but the backbone and FPN inputs comes from MMDetection's own config.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'

custom_imports = dict(imports=['ghostdet'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='GhostNet',
        widen_factor=1.1,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        # No ImageNet weights of GhostNet 1.1x exist publicly; without them the
        # backbone starts from random weights (expect ~9 mAP, not 26.6). With your
        # own weights set: init_cfg=dict(type='Pretrained', checkpoint='PATH').
        init_cfg=None),
    # GhostNet.stage_channels(1.1)[:4]: strides 4/8/16/32.
    neck=dict(in_channels=[28, 44, 124, 176]))

work_dir = './work_dirs/retinanet_ghostnet'
