"""What the demo reports beside mAP: how many objects get several labels, and
where a training step's time goes."""
import json
import os.path as osp
import re

import pytest
import torch

from conftest import as_cli, call_tool, small_run_options
from ghostdet.analysis.labels import count_multi_label_objects
from ghostdet.errors import DatasetError, InputError


def _ann_file(tmp_path, boxes_per_image):
    images = [dict(id=i, file_name=f'{i}.jpg', width=100, height=100)
              for i in boxes_per_image]
    annotations = [dict(id=k, image_id=i, category_id=1, bbox=box, area=box[2] * box[3],
                        iscrowd=crowd)
                   for k, (i, box, crowd) in enumerate(
                       ((i, box, crowd) for i, boxes in boxes_per_image.items()
                        for box, crowd in boxes), 1)]
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(dict(images=images, annotations=annotations,
                                    categories=[dict(id=1, name='a')])))
    return str(path)


def _prediction(img_id, rows):
    rows = torch.tensor(rows, dtype=torch.float32).reshape(-1, 6)
    return dict(img_id=img_id, pred_instances=dict(
        bboxes=rows[:, :4], scores=rows[:, 4], labels=rows[:, 5].long()))


def test_objects_matched_by_two_classes_are_counted(tmp_path):
    ann_file = _ann_file(tmp_path, {
        1: [([0, 0, 20, 20], 0), ([50, 50, 30, 30], 0), ([0, 60, 10, 10], 1)],
        2: [([10, 10, 40, 40], 0)]})
    predictions = [
        _prediction(1, [
            [0, 0, 20, 20, 0.9, 0], [1, 1, 21, 21, 0.4, 2],  # object 1: two classes
            [50, 50, 80, 80, 0.8, 1], [51, 50, 80, 80, 0.7, 1],  # object 2: one class twice
            [50, 50, 80, 80, 0.29, 3],  # ... and a third class below the score threshold
            [0, 60, 10, 70, 0.9, 4], [0, 60, 10, 70, 0.9, 5]]),  # a crowd region: no object
        _prediction(2, [[10, 10, 50, 50, 0.5, 0], [30, 30, 70, 70, 0.9, 1]])]  # IoU 0.14
    result = count_multi_label_objects(predictions, ann_file)
    assert result == dict(num_objects=3, num_multi_label=1, num_found=3,
                          multi_label_share=pytest.approx(1 / 3))
    lenient = count_multi_label_objects(predictions, ann_file, score_thr=0.2, iou_thr=0.1)
    assert lenient['num_multi_label'] == 3


def test_predictions_of_another_dataset_are_named(tmp_path):
    ann_file = _ann_file(tmp_path, {1: [([0, 0, 20, 20], 0)]})
    with pytest.raises(InputError, match='image id 7'):
        count_multi_label_objects([_prediction(7, [])], ann_file)


def test_a_missing_or_corrupt_annotation_file_is_named(tmp_path):
    with pytest.raises(DatasetError, match='annotation file not found'):
        count_multi_label_objects([], str(tmp_path / 'missing.json'))
    (tmp_path / 'cut.json').write_text('{"images": [')
    with pytest.raises(DatasetError, match='not valid JSON'):
        count_multi_label_objects([], str(tmp_path / 'cut.json'))


def test_training_step_profile_names_phases_and_ops(dataset):
    options = small_run_options(dataset, max_epochs=1, batch_size=2)
    result = call_tool(['tools/profile_training.py', 'configs/retinanet_ghostnet_small.py',
                        '--steps', '2', '--warmup', '1', '--profiled-steps', '1',
                        '--cfg-options', *as_cli(options)])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    first = next(line for line in lines if line.startswith('batch 2, '))
    rest = lines[lines.index(first) + 1:]
    assert re.match(r'batch 2, \d+ threads, 0 data workers: step \d+ ms \(median\)', first)
    for phase in ('data', 'preprocess', 'forward', 'backward', 'optimizer'):
        assert f' {phase} ' in first
    assert 'ops (self CPU, ms per step):' in rest
    assert any('convolution_backward' in line for line in rest)


def test_training_step_profile_refuses_no_steps():
    result = call_tool(['tools/profile_training.py', 'configs/retinanet_ghostnet_small.py',
                        '--steps', '0'])
    assert result.returncode == 1
    assert 'need steps >= 1' in result.stderr


def _demo_child_config(tmp_path, train_dataset):
    """A user's demo config whose training set is ``train_dataset`` (a Python
    literal wrapping the small config's own training set)."""
    path = tmp_path / 'my_demo.py'
    path.write_text(
        "_base_ = '{}'\n"
        "_train = {{{{_base_.train_dataloader.dataset}}}}\n"
        "train_dataloader = dict(dataset={})\n".format(
            osp.abspath('configs/retinanet_ghostnet_small.py'), train_dataset))
    return str(path)


def test_demo_moves_a_wrapped_training_set_to_its_data(tmp_path):
    """A demo config whose training set is wrapped (RepeatDataset here, as
    MultiImageMixDataset for CopyPaste or Mosaic) trains on the data the demo
    generates: the inner dataset is moved there, not the wrapper."""
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules

    from conftest import make_small_dataset
    from ghostdet.demo import _data_overrides
    from ghostdet.runner import load_config
    config = _demo_child_config(tmp_path, "dict(_delete_=True, type='RepeatDataset', times=2, dataset=_train)")
    data = make_small_dataset(str(tmp_path / 'data'), num_train=3, num_val=2, seed=0)
    options = _data_overrides(load_config(config), str(tmp_path / 'data'), data['val_ann_file'])
    cfg = load_config(config, cfg_options=options)
    assert 'data_root' not in cfg.train_dataloader.dataset
    register_all_modules()
    train_set = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(train_set) == 2 * 3
    assert train_set[0]['data_samples'].img_path.startswith(str(tmp_path / 'data'))
    assert cfg.test_evaluator.ann_file == data['val_ann_file']


def test_demo_names_a_training_set_it_cannot_place(tmp_path):
    """A list of datasets (ConcatDataset) has no one data root: the demo says
    so in one line, before generating or training anything."""
    config = _demo_child_config(tmp_path, "dict(_delete_=True, type='ConcatDataset', datasets=[_train])")
    result = call_tool(['tools/demo.py', '--config', config, '--work-dir',
                        str(tmp_path / 'demo'), '--data-root', str(tmp_path / 'data')])
    assert result.returncode == 1
    assert 'train_dataloader.dataset is a list of datasets' in result.stderr
    assert 'Traceback' not in result.stderr
    assert not (tmp_path / 'data').exists()


def test_demo_without_a_data_root_says_where_to_give_one(tmp_path):
    """No data_root in the config and no --data-root: one line naming both."""
    config = tmp_path / 'no_root.py'
    config.write_text("_base_ = '{}'\ntrain_dataloader = dict(dataset=dict(data_root=None))\n"
                      .format(osp.abspath('configs/retinanet_ghostnet_small.py')))
    result = call_tool(['tools/demo.py', '--config', str(config), '--work-dir',
                        str(tmp_path / 'demo')])
    assert result.returncode == 1
    assert 'train_dataloader.dataset has no data_root' in result.stderr
    assert '--data-root' in result.stderr and 'Traceback' not in result.stderr
