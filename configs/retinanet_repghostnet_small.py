# RetinaNet-RepGhostNet 1.11x trained from scratch on the generated small dataset
# (tools/make_dataset.py): retinanet_ghostnet_small.py (the `make demo` recipe) with
# RepGhostNet 1.11x, GhostNet 1.1x's counterpart, in place of GhostNet 1.1x.
_base_ = './retinanet_ghostnet_small.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='RepGhostNet',
        widen_factor=1.11,
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=None),
    # RepGhostNet.stage_channels(1.11)[:4]
    neck=dict(in_channels=[28, 44, 124, 176]))

work_dir = './work_dirs/retinanet_repghostnet_small'
