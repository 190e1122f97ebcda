# Faster R-CNN + FPN on MobileNetV2 1.0x, MS-COCO 2017, 1x schedule: the paper's first
# peer of GhostNet (Table 9: 27.5 bbox mAP, ImageNet-pretrained). Only the backbone
# and the FPN inputs differ from faster_rcnn_ghostnet.py.
_base_ = './faster_rcnn_ghostnet.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='MobileNetV2',  # MMDetection's own
        widen_factor=1.0,
        # The same taps as GhostNet's: the last bottleneck of each stride 4/8/16/32
        # stage (layer2/3/5/7), not the final 1x1 conv (out index 7, 1280 channels).
        out_indices=(1, 2, 4, 6),
        # Stem + the stages up to the stride-4 tap (conv1, layer1, layer2), as
        # GhostNet's frozen_stages=1: here stage i is layer i, and the stride-4
        # tap is layer2.
        frozen_stages=2,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        # MMDetection's own ImageNet weights for its MobileNetV2 (top-1 71.9%), as
        # its ssdlite/yolov3 MobileNetV2 configs load them.
        init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://mmdet/mobilenet_v2')),
    # MobileNetV2 1.0x channels at strides 4/8/16/32.
    neck=dict(in_channels=[24, 32, 96, 320]))

work_dir = './work_dirs/faster_rcnn_mobilenetv2'
