"""A user's own COCO-format dataset, as data/README.md says: copy the
configs/my_dataset config, change its data root and class names, train and
evaluate with tools/train.py and tools/test.py."""
import json
import os
import os.path as osp
import shutil

import pytest
import torch

from conftest import CONFIGS, call_tool, make_small_dataset
from ghostdet.checkpoint import load_checkpoint_file

FRUIT = ('apple', 'pear', 'plum')  # not the generated set's shape names


@pytest.fixture(scope='module')
def fruit(tmp_path_factory):
    """A COCO-format dataset in the layout the config expects, with three
    classes of its own (the generated shapes relabelled)."""
    generated = make_small_dataset(tmp_path_factory.mktemp('gen'), num_train=4, num_val=2,
                                   seed=11)
    root = tmp_path_factory.mktemp('my_dataset')
    os.makedirs(root / 'annotations')
    for split in ('train', 'val'):
        with open(generated[f'{split}_ann_file']) as f:
            data = json.load(f)
        data['categories'] = [dict(id=i + 1, name=name) for i, name in enumerate(FRUIT)]
        for ann in data['annotations']:
            ann['category_id'] = (ann['category_id'] - 1) % len(FRUIT) + 1
        (root / 'annotations' / f'{split}.json').write_text(json.dumps(data))
        shutil.copytree(generated[f'{split}_img_dir'], root / split)
    return root


@pytest.fixture(scope='module')
def official_1_0x_weights(tmp_path_factory):
    """GhostNet 1.0x ImageNet weights in the official layout (a local file:
    the config's URL cannot be reached here)."""
    from timm.models import ghostnet as timm_ghostnet
    path = tmp_path_factory.mktemp('weights') / 'state_dict_73.98.pth'
    torch.save(timm_ghostnet._create_ghostnet('ghostnet_100', width=1.0).state_dict(), path)
    return str(path)


def users_copy(config, root, tmp_path):
    """configs/my_dataset/ copied, and its dataset file's first two lines
    changed, as the user does; returns the copy of ``config``."""
    folder = tmp_path / 'my_dataset'
    shutil.copytree(osp.join(CONFIGS, 'my_dataset'), folder)
    dataset = folder / 'my_dataset.py'
    text = dataset.read_text()
    for old, new in (("my_data_root = 'data/my_dataset/'", f"my_data_root = '{root}/'"),
                     ("my_classes = ('cat', 'dog', 'bird')", f'my_classes = {FRUIT!r}')):
        assert old in text, f'my_dataset.py no longer has the line data/README.md names: {old}'
        text = text.replace(old, new)
    dataset.write_text(text)
    # The copy sits outside configs/: its base is named by its full path.
    detector = folder / config
    detector.write_text(detector.read_text().replace("'../", f"'{CONFIGS}/"))
    return str(detector)


def quick_options(weights):
    """160 px images, one epoch of two iterations, the local ImageNet weights."""
    options = [f'model.backbone.init_cfg.checkpoint={weights}', 'train_cfg.max_epochs=1',
               'train_dataloader.batch_size=2', 'default_hooks.logger.interval=1',
               'train_dataloader.dataset.pipeline.2.scale=(160,160)']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [f'{loader}.num_workers=0', f'{loader}.persistent_workers=False']
    for loader in ('val_dataloader', 'test_dataloader'):
        options.append(f'{loader}.dataset.pipeline.1.scale=(160,160)')
    return options


def test_own_dataset_trains_and_evaluates(fruit, official_1_0x_weights, tmp_path, one_thread):
    path = users_copy('retinanet_ghostnet_1.0x_my_dataset.py', fruit, tmp_path)
    work_dir = tmp_path / 'work'
    # Every detection of a two-iteration model kept, so that there is a per-class table.
    options = [*quick_options(official_1_0x_weights), 'model.test_cfg.score_thr=0.0']
    result = call_tool(['tools/train.py', path, '--work-dir', work_dir,
                        '--cfg-options', *options])
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = work_dir / 'epoch_1.pth'
    state = load_checkpoint_file(str(checkpoint))['state_dict']
    # num_classes from the class names: 9 anchors x 3 classes.
    assert state['bbox_head.retina_cls.weight'].shape[0] == 9 * len(FRUIT)
    # The ImageNet weights were loaded into the backbone (frozen stem unchanged).
    weights = load_checkpoint_file(official_1_0x_weights)
    torch.testing.assert_close(state['backbone.conv_stem.weight'], weights['conv_stem.weight'])

    result = call_tool(['tools/test.py', path, str(checkpoint), '--work-dir', tmp_path / 'test',
                        '--cfg-options', *options, 'test_evaluator.classwise=True'])
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    for name in FRUIT:
        assert f'| {name}' in output  # per-class AP under the user's class names
    assert 'bbox_mAP_50' in output


def test_faster_rcnn_on_own_dataset_has_its_classes(fruit, tmp_path):
    """The same changes make a Faster R-CNN of the user's classes on the
    user's data (it trains as the RetinaNet does: tests/test_end_to_end.py
    trains Faster R-CNN)."""
    from mmdet.registry import DATASETS, MODELS
    from mmengine.registry import DefaultScope

    from ghostdet.config import load_config
    cfg = load_config(users_copy('faster_rcnn_ghostnet_1.0x_my_dataset.py', fruit, tmp_path))
    cfg.model.backbone.init_cfg = None  # building only: no weights needed
    cfg.model.backbone.update(frozen_stages=-1, norm_eval=False)
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
        assert model.roi_head.bbox_head.fc_cls.out_features == len(FRUIT) + 1
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            dataset = DATASETS.build(cfg[loader].dataset)
            assert dataset.metainfo['classes'] == FRUIT and len(dataset) > 0
            assert len(dataset.cat_ids) == len(FRUIT)  # each class found among the categories
    assert cfg.test_evaluator.ann_file == f'{fruit}/annotations/val.json'
