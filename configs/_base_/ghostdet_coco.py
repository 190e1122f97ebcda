# ghostdet's protections for the COCO configs, each switched on by name (a second
# base beside MMDetection's own; only names MMDetection's bases do not define):
# ghostdet's registry entries, weights-only loading of every checkpoint, and
# MMDetection's COCO pipelines with `CheckedLoadImageFromFile` (a missing, empty,
# undecodable or truncated image is named) in place of `LoadImageFromFile`. The
# configs use them with the dataset type `CheckedCocoDataset` (the annotation
# file is checked as it loads).
custom_imports = dict(imports=['ghostdet', 'ghostdet.weights_only'],
                      allow_failed_imports=False)

checked_train_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
checked_test_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    # Without annotations (test-dev), drop LoadAnnotations as MMDetection's own
    # test-dev configs do.
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
