# Faster R-CNN-GhostNet 1.1x trained from scratch on the generated small dataset
# (tools/make_dataset.py) on a 2-core CPU. Same detector as faster_rcnn_ghostnet.py
# with a narrow FPN, RPN and box head for tiny data (dataset and schedule:
# _base_/small_data.py).
_base_ = ['mmdet::_base_/models/faster-rcnn_r50_fpn.py', './_base_/small_data.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='GhostNet',
        widen_factor=1.1,
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=None),
    neck=dict(in_channels=[28, 44, 124, 176], out_channels=64),
    rpn_head=dict(in_channels=64, feat_channels=64,
                  anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(in_channels=64, fc_out_channels=256, num_classes=6)),
    train_cfg=dict(rpn_proposal=dict(nms_pre=1000, max_per_img=500),
                   rcnn=dict(sampler=dict(num=256))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300)))

work_dir = './work_dirs/faster_rcnn_ghostnet_small'
