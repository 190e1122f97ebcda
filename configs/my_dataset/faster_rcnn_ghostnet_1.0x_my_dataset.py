# Faster R-CNN-GhostNet 1.0x (public ImageNet weights) on your own COCO-format dataset:
# the same data as retinanet_ghostnet_1.0x_my_dataset.py (keep the two in step); only
# where the number of classes goes differs (the RoI head's box head).
_base_ = '../faster_rcnn_ghostnet_1.0x.py'

data_root = 'data/my_dataset/'
classes = ('cat', 'dog', 'bird')
num_classes = len(classes)

model = dict(roi_head=dict(bbox_head=dict(num_classes=num_classes)))

metainfo = dict(classes=classes)
train_dataloader = dict(
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file='annotations/train.json',
                 data_prefix=dict(img='train/')))
val_dataloader = dict(
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file='annotations/val.json',
                 data_prefix=dict(img='val/')))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = val_evaluator

work_dir = './work_dirs/faster_rcnn_ghostnet_1.0x_my_dataset'
