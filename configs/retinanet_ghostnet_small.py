# RetinaNet-GhostNet 1.1x trained from scratch on the generated small dataset
# (tools/make_dataset.py) on a 2-core CPU: the `make demo` model. Same detector
# as retinanet_ghostnet.py with a recipe for tiny data and no ImageNet weights
# (dataset and schedule: _base_/small_data.py): 320 px images; a 96-channel FPN
# and GN head (the backbone takes ~75% of the time, so a wider head is cheap);
# square anchors from 16 px (every shape's box is near-square, and the images
# are small); positives from IoU 0.4 so small objects get some; GIoU loss.
_base_ = ['mmdet::_base_/models/retinanet_r50_fpn.py', './_base_/small_data.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='GhostNet',
        widen_factor=1.1,
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=None),
    neck=dict(in_channels=[28, 44, 124, 176], out_channels=96),
    bbox_head=dict(
        num_classes=6,
        in_channels=96,
        feat_channels=96,
        stacked_convs=2,
        norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
        anchor_generator=dict(octave_base_scale=2, ratios=[1.0]),
        reg_decoded_bbox=True,
        loss_bbox=dict(_delete_=True, type='GIoULoss', loss_weight=2.0)),
    train_cfg=dict(assigner=dict(pos_iou_thr=0.4, neg_iou_thr=0.3)),
    test_cfg=dict(score_thr=0.05, max_per_img=50))

work_dir = './work_dirs/retinanet_ghostnet_small'
