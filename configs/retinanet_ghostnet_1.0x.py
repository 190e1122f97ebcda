# RetinaNet + FPN on GhostNet 1.0x with the public official ImageNet weights
# (state_dict_73.98.pth, top-1 73.98%; timm's ghostnet_100.in1k is the same network),
# MS-COCO 2017, 1x schedule: the COCO run that needs no pretraining of your own.
# Not the paper's width (1.1x, whose weights are not public); only the width, the
# weights and the FPN inputs differ from retinanet_ghostnet.py.
_base_ = './retinanet_ghostnet.py'

model = dict(
    backbone=dict(
        widen_factor=1.0,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://github.com/huawei-noah/ghostnet/raw/master/ghostnet_pytorch/'
            'models/state_dict_73.98.pth')),
    # GhostNet.stage_channels(1.0)[:4]: strides 4/8/16/32.
    neck=dict(in_channels=[24, 40, 112, 160]))

work_dir = './work_dirs/retinanet_ghostnet_1.0x'
