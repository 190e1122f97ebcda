# ImageNet-1k pretraining of GhostNet (default 1.1x, the paper's detection
# width) with MMPretrain, for the ImageNet-pretrained backbones the paper's
# detection results need. No 1.1x weights exist publicly.
#
#   python tools/train.py configs/pretrain/ghostnet-1.1x_8xb128_in1k.py
#   bash tools/dist_train.sh configs/pretrain/ghostnet-1.1x_8xb128_in1k.py 8
#
# Then load the backbone into a detector (its `backbone.` keys are found and
# every tensor must match):
#   model.backbone.init_cfg = dict(type='Pretrained', checkpoint='<.pth>')
#
# Data: data/imagenet/train/<wnid>/*.JPEG and data/imagenet/val/<wnid>/*.JPEG
# (val sorted into class folders, as MMPretrain's ``ImageNet`` reads it without
# annotation files); or flat train/ and val/ image folders plus
# data/imagenet/meta/{train,val}.txt lines "<path relative to split> <label>",
# used automatically when present.
#
# Other widths: change `widen_factor` below; the head's input channels follow.
# (`--cfg-options widen_factor=...` does NOT work: the values below are computed
# when this file is read. On the command line give both
# `model.backbone.widen_factor=W model.head.in_channels=C`.)
#
# Recipe. The paper's ImageNet runs were in TensorFlow and no training script is
# public; this follows the maintainers' answers (iamhankai/ghostnet.pytorch #3,
# #18; huawei-noah/Efficient-AI-Backbones #53): SGD momentum 0.9, lr 0.4 for a
# batch of 1024, 5 linear warm-up epochs then cosine decay, 400 epochs, dropout
# 0.2 before the classifier; random-resized crop (bicubic), flip and colour
# jitter 0.4 as in their data code. From the ShuffleNetV2 recipe they point to
# for PyTorch: weight decay 4e-5, none on norm layers, label smoothing 0.1 (they
# also suggest trying wd 3e-5 or 1e-5). No EMA, AutoAugment or mixup.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_pil_resize.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_linearlr_bn_nowd.py',
    'mmpretrain::_base_/default_runtime.py',
]

custom_imports = dict(imports=['ghostdet', 'ghostdet.weights_only', 'mmpretrain'],
                      allow_failed_imports=False)

widen_factor = 1.1
# Channels of GhostNet's last 1x1 conv (blocks.9): make_divisible(960 * w, 4),
# i.e. rounded to the nearest multiple of 4 (its minimum and 10% rules only act
# below w = 0.03), written out since a config cannot import ghostdet. 1056 at 1.1x.
blocks9_channels = int(960 * widen_factor + 2) // 4 * 4

# The official classifier's conv_head (1x1 conv on the pooled features) is a
# Linear layer; the stacked head reproduces conv_head -> ReLU -> dropout ->
# classifier with the same parameters (5.86M at 1.1x).
model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmdet.GhostNet', widen_factor=widen_factor, out_indices=(4, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='StackedLinearClsHead',
        num_classes=1000,
        in_channels=blocks9_channels,
        mid_channels=[1280],
        dropout_rate=0.2,
        act_cfg=dict(type='ReLU'),
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, loss_weight=1.0)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4),
    dict(type='PackInputs'),
]
# 8 GPUs x 128 images = the authors' batch of 1024.
train_dataloader = dict(batch_size=128, dataset=dict(pipeline=train_pipeline))

optim_wrapper = dict(optimizer=dict(lr=0.4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=395, by_epoch=True, begin=5, end=400,
         convert_to_iter_based=True),
]
# ghostdet's loop, checkpoint hook and loss check (ghostdet.engine): exact resume,
# checkpoints that survive a kill or a full disk, bad images skipped and counted,
# a stop at the first non-finite loss.
train_cfg = dict(_delete_=True, type='ResumableEpochBasedTrainLoop', max_epochs=400, val_interval=1)
# Keep the best and the last three of 400 epochs.
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook', max_keep_ckpts=3,
                                     save_best='auto'))
custom_hooks = [
    dict(type='FiniteLossHook'),
    dict(type='SafeCheckpointHook', by_epoch=False, interval=1000, max_keep_ckpts=2,
         filename_tmpl='iter_{}.pth', save_last=False),
]

work_dir = './work_dirs/ghostnet-1.1x_8xb128_in1k'
