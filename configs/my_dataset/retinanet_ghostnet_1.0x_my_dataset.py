# RetinaNet-GhostNet 1.0x (public ImageNet weights) on your own COCO-format dataset.
# Copy this file and change the three lines below; the layout it expects:
#   data/my_dataset/annotations/{train,val}.json   (COCO format: images, annotations,
#   data/my_dataset/{train,val}/*.jpg               categories named as in `classes`)
# Everything else (schedule, weights-only loading, data checks) is the COCO config's.
_base_ = '../retinanet_ghostnet_1.0x.py'

data_root = 'data/my_dataset/'
classes = ('cat', 'dog', 'bird')  # the category names of your annotation files
num_classes = len(classes)

model = dict(bbox_head=dict(num_classes=num_classes))

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

work_dir = './work_dirs/retinanet_ghostnet_1.0x_my_dataset'
