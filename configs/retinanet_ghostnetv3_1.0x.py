# RetinaNet + FPN on GhostNetV3 1.0x (arXiv 2404.11202, re-parameterised branches), with its public ImageNet weights; MS-COCO 2017,
# 1x schedule. The GhostNet paper's recipe (retinanet_ghostnet.py): only the backbone,
# its weights and the FPN inputs differ (configs/_base_/ghost_family.py).
_base_ = ['./retinanet_ghostnet.py', './_base_/ghost_family.py']

model = dict(backbone={{_base_.ghostnetv3_100}},
             neck=dict(in_channels={{_base_.ghostnetv3_100_channels}}))

work_dir = './work_dirs/retinanet_ghostnetv3_1.0x'
