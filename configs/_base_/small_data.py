# The generated small dataset (tools/make_dataset.py) and a from-scratch CPU
# recipe for it, shared by the *_small.py configs. Batch 4 rather than 8: with no
# pretrained weights the number of updates is what limits learning here
# (RetinaNet, 12 epochs: mAP 0.229 at batch 8, 0.315 at batch 4, same lr).
_base_ = 'mmdet::_base_/default_runtime.py'

# ghostdet's registry entries, and weights-only loading of every checkpoint.
custom_imports = dict(imports=['ghostdet', 'ghostdet.weights_only'],
                      allow_failed_imports=False)

# ghostdet's data checks, by name: the annotation files are checked as they load
# and bad images are named (CheckedCocoDataset; in training they are skipped and
# counted).
dataset_type = 'CheckedCocoDataset'
data_root = 'data/small/'
classes = ('circle', 'square', 'triangle', 'star', 'cross', 'hexagon')
image_scale = (320, 320)
max_epochs = 12
batch_size = 4

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=batch_size,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=dict(classes=classes),
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=8),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=dict(classes=classes),
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='CocoMetric', ann_file=data_root + 'annotations/instances_val.json', metric='bbox')
test_evaluator = val_evaluator

# ghostdet's loop, checkpoint hook and loss check (ghostdet.engine): exact resume,
# checkpoints that survive a kill or a full disk, bad images skipped and counted,
# a stop at the first non-finite loss.
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.002, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.),
    clip_grad=dict(max_norm=10, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', eta_min_ratio=0.01, by_epoch=True, begin=0,
         end=max_epochs, convert_to_iter_based=True)
]
auto_scale_lr = dict(enable=False, base_batch_size=batch_size)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=1))
custom_hooks = [
    dict(type='FiniteLossHook'),
    # Mid-epoch checkpoints: a kill loses at most 100 iterations.
    dict(type='SafeCheckpointHook', by_epoch=False, interval=100, max_keep_ckpts=2,
         filename_tmpl='iter_{}.pth', save_last=False),
]
randomness = dict(seed=0)
