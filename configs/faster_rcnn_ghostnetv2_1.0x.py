# Faster R-CNN + FPN on GhostNetV2 1.0x (NeurIPS 2022, DFC attention), with its public ImageNet weights; MS-COCO 2017,
# 1x schedule. The GhostNet paper's recipe (faster_rcnn_ghostnet.py): only the backbone,
# its weights and the FPN inputs differ (configs/_base_/ghost_family.py).
_base_ = ['./faster_rcnn_ghostnet.py', './_base_/ghost_family.py']

model = dict(backbone={{_base_.ghostnetv2_100}},
             neck=dict(in_channels={{_base_.ghostnetv2_100_channels}}))

work_dir = './work_dirs/faster_rcnn_ghostnetv2_1.0x'
