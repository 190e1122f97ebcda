# RetinaNet + FPN on MobileNetV3-Large 1.0x, MS-COCO 2017, 1x schedule: the paper's
# second peer of GhostNet (Table 9: 26.4 bbox mAP, ImageNet-pretrained). Only the
# backbone and the FPN inputs differ from retinanet_ghostnet.py.
_base_ = './retinanet_ghostnet.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='TVMobileNetV3',  # ghostdet's wrapper of torchvision's mobilenet_v3_large
        widen_factor=1.0,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        # torchvision's BatchNorm (eps 1e-3, momentum 0.01), trainable; running
        # statistics frozen.
        norm_eval=True,
        # torchvision's ImageNet weights (MobileNet_V3_Large_Weights.IMAGENET1K_V1,
        # top-1 74.0%), whose keys (features.*) match; loaded strictly.
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.pytorch.org/models/mobilenet_v3_large-8738ca79.pth')),
    # TVMobileNetV3.stage_channels(1.0)[:4]: strides 4/8/16/32.
    neck=dict(in_channels=[24, 40, 112, 160]))

work_dir = './work_dirs/retinanet_mobilenetv3'
