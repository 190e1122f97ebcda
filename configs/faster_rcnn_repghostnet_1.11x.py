# Faster R-CNN + FPN on RepGhostNet 1.11x (RepGhost, arXiv 2211.06088; GhostNet 1.1x's
# counterpart), with its public ImageNet weights; MS-COCO 2017,
# 1x schedule. The GhostNet paper's recipe (faster_rcnn_ghostnet.py): only the backbone,
# its weights and the FPN inputs differ (configs/_base_/ghost_family.py).
_base_ = ['./faster_rcnn_ghostnet.py', './_base_/ghost_family.py']

model = dict(backbone={{_base_.repghostnet_111}},
             neck=dict(in_channels={{_base_.repghostnet_111_channels}}))

work_dir = './work_dirs/faster_rcnn_repghostnet_1.11x'
