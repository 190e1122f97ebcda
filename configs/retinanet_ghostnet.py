# RetinaNet + FPN on GhostNet 1.1x, MS-COCO 2017, 1x schedule (12 epochs), as in
# the GhostNet paper (Table 9: 26.6 bbox mAP with an ImageNet-pretrained 1.1x).
# Everything but the backbone and FPN inputs comes from MMDetection's own config.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'

# ghostdet's registry entries, and weights-only loading of every checkpoint.
custom_imports = dict(imports=['ghostdet', 'ghostdet.weights_only'],
                      allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='GhostNet',
        widen_factor=1.1,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        # The paper's backbone: GhostNet 1.1x pretrained on ImageNet (top-1 ~74.5%).
        # Those weights are not public: `python tools/train.py
        # configs/pretrain/ghostnet-1.1x_8xb128_in1k.py` (ImageNet, 8 GPUs x 400 epochs)
        # leaves them here. Loading is strict: every tensor must fit. To use other
        # weights: --cfg-options model.backbone.init_cfg.checkpoint=PATH. From scratch
        # (not the paper's setting): model.backbone.init_cfg=None
        # model.backbone.frozen_stages=-1 model.backbone.norm_eval=False.
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/ghostnet-1.1x_8xb128_in1k/epoch_400.pth')),
    # GhostNet.stage_channels(1.1)[:4]: strides 4/8/16/32.
    neck=dict(in_channels=[28, 44, 124, 176]))

# ghostdet's loop, checkpoint hook and loss check (ghostdet.engine): exact resume,
# checkpoints that survive a kill or a full disk, bad images skipped and counted
# (training stops above 1%), a stop at the first non-finite loss.
train_cfg = dict(type='ResumableEpochBasedTrainLoop')
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))
custom_hooks = [
    dict(type='FiniteLossHook'),
    # Mid-epoch checkpoints (an epoch is ~7,300 iterations at 16 images per
    # batch): a kill loses at most 1,000 iterations.
    dict(type='SafeCheckpointHook', by_epoch=False, interval=1000, max_keep_ckpts=2,
         filename_tmpl='iter_{}.pth', save_last=False),
]

work_dir = './work_dirs/retinanet_ghostnet'

# ghostdet's data checks: the annotation files are checked as they load, bad images
# are named (and skipped in training). MMDetection's own pipelines.
train_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
val_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
test_dataloader = val_dataloader
