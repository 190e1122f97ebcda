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
        # ImageNet weights: init_cfg=dict(type='Pretrained', checkpoint='PATH') takes an
        # official GhostNet state dict, a timm one, or an MMPretrain/MMDetection
        # checkpoint, and fails on any key or shape that does not fit. Public weights
        # exist only for 1.0x (official state_dict_73.98.pth, timm ghostnet_100), so
        # with widen_factor=1.1 pretrain first (configs/pretrain/); without weights the
        # backbone starts from random ones (expect ~9 mAP, not 26.6).
        init_cfg=None),
    # GhostNet.stage_channels(1.1)[:4]: strides 4/8/16/32.
    neck=dict(in_channels=[28, 44, 124, 176]))

work_dir = './work_dirs/retinanet_ghostnet'
