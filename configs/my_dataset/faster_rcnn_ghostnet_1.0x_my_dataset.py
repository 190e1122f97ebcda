# Faster R-CNN-GhostNet 1.0x (public ImageNet weights) on your own COCO-format dataset,
# described in my_dataset.py beside this file; the number of classes goes to the RoI
# head's box head.
_base_ = ['../faster_rcnn_ghostnet_1.0x.py', './my_dataset.py']

model = dict(roi_head=dict(bbox_head=dict(num_classes={{_base_.my_num_classes}})))
train_dataloader = {{_base_.my_train_dataloader}}
val_dataloader = test_dataloader = {{_base_.my_val_dataloader}}
val_evaluator = test_evaluator = {{_base_.my_evaluator}}

work_dir = './work_dirs/faster_rcnn_ghostnet_1.0x_my_dataset'
