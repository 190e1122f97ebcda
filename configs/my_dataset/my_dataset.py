# Your own COCO-format dataset, for both detector configs beside this file
# (retinanet_ghostnet_1.0x_my_dataset.py, faster_rcnn_ghostnet_1.0x_my_dataset.py).
# Change the first two lines; the layout they expect (data/README.md):
#   <my_data_root>/annotations/{train,val}.json   COCO format, categories named as
#   <my_data_root>/{train,val}/*.jpg               in `my_classes`
my_data_root = 'data/my_dataset/'
my_classes = ('cat', 'dog', 'bird')  # the category names of your annotation files

my_num_classes = len(my_classes)
my_train_dataloader = dict(
    dataset=dict(data_root=my_data_root, metainfo=dict(classes=my_classes),
                 ann_file='annotations/train.json', data_prefix=dict(img='train/')))
my_val_dataloader = dict(
    dataset=dict(data_root=my_data_root, metainfo=dict(classes=my_classes),
                 ann_file='annotations/val.json', data_prefix=dict(img='val/')))
my_evaluator = dict(ann_file=my_data_root + 'annotations/val.json')
