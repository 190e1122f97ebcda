"""The COCO annotation check: MMDetection 3.3's semantics, run as MMDetection
loads the file, once per job."""
import copy
import json
import os.path as osp

import pytest
from mmdet.datasets import CocoDataset
from mmdet.datasets.api_wrappers import COCO

import ghostdet.data_check.coco_loading as coco_loading
from conftest import as_cli, call_tool, make_small_dataset, small_run_options
from ghostdet.data_check import annotation_check_skipped, check_coco_annotations
from ghostdet.errors import DatasetError

CLASSES = ('thing', 'other')


def valid():
    return dict(
        images=[dict(id=1, file_name='a.jpg', width=100, height=80),
                dict(id=2, file_name='b.jpg', width=50, height=50)],
        annotations=[dict(id=1, image_id=1, category_id=1, bbox=[10, 10, 20, 20], area=400,
                          iscrowd=0),
                     dict(id=2, image_id=2, category_id=2, bbox=[0, 0, 50, 50], area=2500,
                          iscrowd=1)],
        categories=[dict(id=1, name='thing'), dict(id=2, name='other')])


def write(tmp_path, data, name='ann.json'):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def broken(change):
    data = valid()
    change(data)
    return data


@pytest.mark.parametrize('data, expected', [
    ('{"images": [,]}', 'not valid JSON: .* line 1, column 13'),
    ('[]', 'top level is a list'),
    (broken(lambda d: d.pop('categories')), r"key\(s\) \['categories'\]"),
    (broken(lambda d: d['images'].append(dict(d['images'][0]))), r'ids are used more .* \[1\]'),
    (broken(lambda d: d['annotations'].append(dict(d['annotations'][0]))),
     r'1 annotation ids are used more than once, e.g. \[1\]'),
    (broken(lambda d: d['categories'].append(dict(id=1, name='x'))), 'category ids'),
    (broken(lambda d: d['categories'].append(dict(id=3, name='thing'))),
     r"category names are used more than once: \['thing'\]"),
    (broken(lambda d: d['annotations'][0].update(id=0)), 'annotation id 0'),
    (broken(lambda d: d['annotations'][1].pop('area')), 'annotation entries have no "area"'),
    (broken(lambda d: d['annotations'][1].pop('iscrowd')), 'no "iscrowd", e.g. .*\'id\': 2'),
    (broken(lambda d: d['annotations'][0].pop('bbox')), 'no "bbox"'),
    (broken(lambda d: d['images'][1].pop('width')), r'image entries have no "width".*\'id\': 2'),
    (broken(lambda d: d['images'][0].update(height=0)), r'width or height <= 0, .* \[1\]'),
    (broken(lambda d: d['images'][0].update(height='80')),
     r'''1 image entries have a "height" that is not a finite number: image id 1: '80'\. '''
     r'Every image needs .* "width" and "height" in pixels'),
    (broken(lambda d: d['annotations'][0].update(bbox=[1, 2, 3])), 'not finite numbers'),
    (broken(lambda d: d['annotations'][0].update(bbox=[1, 2, float('nan'), 3])),
     r'annotation id 1: \[1, 2, nan, 3\]'),
    (broken(lambda d: d['annotations'][0].update(bbox=[1, 2, '3', 3])), 'not finite numbers'),
    (broken(lambda d: d['annotations'][1].update(area=None)), 'not a finite number'),
    (broken(lambda d: d['annotations'][1].update(iscrowd=2)), r'"iscrowd" that is not 0 or 1'),
    (broken(lambda d: d['annotations'][0].update(image_id='1')), 'not an integer'),
    (broken(lambda d: d['annotations'][0].pop('id')), 'annotation entries have no "id"'),
])
def test_problems_that_break_training_or_evaluation_are_errors(tmp_path, data, expected):
    path = write(tmp_path, data)
    with pytest.raises(DatasetError, match=expected) as error:
        check_coco_annotations(path, classes=CLASSES)
    assert str(error.value).startswith(f'{path}: ')


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DatasetError, match='not found') as error:
        check_coco_annotations(str(tmp_path / 'nope.json'))
    assert str(tmp_path / 'nope.json') in str(error.value)


def test_config_classes_must_name_categories(tmp_path):
    path = write(tmp_path, valid())
    with pytest.raises(DatasetError, match=r"classes \['plane'\] match no category name") as error:
        check_coco_annotations(path, classes=('thing', 'plane', 'other'))
    assert 'metainfo=dict(classes=...)' in str(error.value)
    # A subset of the file's categories is fine: the others are skipped.
    report = check_coco_annotations(path, classes=('other', ))
    assert report.skipped['unknown_category'] == [1]


def build_coco_dataset(path, classes, dataset_type='CheckedCocoDataset', **kwargs):
    """A dataset built by type name from the registry, as a config builds it."""
    from mmdet.registry import DATASETS
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmdet'):
        return DATASETS.build(dict(dict(type=dataset_type, ann_file=path,
                                        metainfo=dict(classes=classes),
                                        data_prefix=dict(img=''), pipeline=[], test_mode=True),
                                   **kwargs))


def mmdet_instances(path, classes):
    """What MMDetection's own CocoDataset keeps, per image id."""
    dataset = build_coco_dataset(path, classes, 'CocoDataset')
    infos = [dataset.get_data_info(index) for index in range(len(dataset))]
    return {info['img_id']: len(info['instances']) for info in infos}


def test_what_mmdet_skips_is_counted_not_refused(tmp_path):
    data = valid()
    extra = [
        dict(bbox=[10, 10, 0.5, 20]),  # under 1 px wide
        dict(bbox=[10, 10, 20, 20], area=0),  # no area
        dict(bbox=[200, 10, 20, 20]),  # right of the image
        dict(bbox=[-30, -30, 30, 30]),  # touches the image only at a corner
        dict(bbox=[90, 70, 30, 30]),  # partly outside: kept
        dict(image_id=99),  # no such image
        dict(category_id=7),  # no such category
        dict(ignore=True),  # marked ignore
    ]
    for index, change in enumerate(extra, start=10):
        data['annotations'].append(dict(dict(id=index, image_id=1, category_id=1,
                                             bbox=[10, 10, 20, 20], area=400, iscrowd=0),
                                        **change))
    path = write(tmp_path, data)
    report = check_coco_annotations(path, classes=CLASSES)
    assert report.skipped == dict(unknown_image=[15], ignore=[17], outside_image=[12, 13],
                                  empty_box=[10, 11], unknown_category=[16])
    warning = report.warning(path)
    assert 'MMDetection skips 7 of 10 annotations' in warning
    assert '2 have a box with no area inside its image (e.g. annotation ids [12, 13])' in warning

    # The same count as MMDetection's own parsing, image by image.
    kept = mmdet_instances(path, CLASSES)
    skipped = {i for ids in report.skipped.values() for i in ids}
    expected = {}
    for ann in data['annotations']:
        if ann['id'] not in skipped:
            expected[ann['image_id']] = expected.get(ann['image_id'], 0) + 1
    assert kept == {image['id']: expected.get(image['id'], 0) for image in data['images']}


def test_check_runs_as_mmdet_loads_and_can_be_skipped(tmp_path):
    path = write(tmp_path, broken(lambda d: d['annotations'][1].pop('iscrowd')))
    with pytest.raises(DatasetError, match='iscrowd'):
        build_coco_dataset(path, CLASSES)
    # Skipped, MMDetection's training parse does not need iscrowd (evaluation does).
    with annotation_check_skipped():
        dataset = build_coco_dataset(path, CLASSES)
    assert [len(dataset.get_data_info(i)['instances']) for i in range(len(dataset))] == [1, 1]
    # MMDetection's own CocoDataset is left as it is: no check unless a config names ours.
    assert mmdet_instances(path, CLASSES) == {1: 1, 2: 1}
    assert CocoDataset.COCOAPI is COCO


def test_the_checked_dataset_names_bad_images_through_its_own_pipeline(tmp_path):
    from mmcv.transforms import LoadImageFromFile

    from ghostdet.data_check import CheckedLoadImageFromFile
    path = write(tmp_path, valid())
    pipeline = [dict(type='LoadImageFromFile', color_type='grayscale')]
    for check_images, loader in ((True, CheckedLoadImageFromFile), (False, LoadImageFromFile)):
        dataset = build_coco_dataset(path, CLASSES, pipeline=pipeline, check_images=check_images)
        first = dataset.pipeline.transforms[0]
        assert type(first) is loader and first.color_type == 'grayscale'
    assert pipeline == [dict(type='LoadImageFromFile', color_type='grayscale')]  # not changed


def test_only_rank_0_checks_and_the_others_take_its_verdict(monkeypatch):
    monkeypatch.setattr(coco_loading, 'get_dist_info', lambda: (1, 2))
    monkeypatch.setattr(coco_loading, 'check_coco_dict',
                        lambda *args, **kwargs: pytest.fail('rank 1 checked'))

    def broadcast_from_rank_0(objects, src):
        assert src == 0 and objects == [None, None]
        objects[0] = 'ann.json: annotation id 0 is used'

    monkeypatch.setattr(coco_loading, 'broadcast_object_list', broadcast_from_rank_0)
    with pytest.raises(DatasetError, match='annotation id 0 is used'):
        coco_loading._verdict_of_rank_0(valid(), 'ann.json', CLASSES)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    return make_small_dataset(tmp_path_factory.mktemp('tiny'), num_train=4, num_val=2, seed=3)


def with_broken_train_file(tiny, tmp_path, change):
    with open(tiny['train_ann_file']) as f:
        data = json.load(f)
    change(data)
    path = write(tmp_path, data, 'train.json')
    options = small_run_options(tiny, max_epochs=1, val_interval=5)  # one batch of 4
    options['train_dataloader.dataset.ann_file'] = path
    return path, options


def test_train_tool_names_the_broken_annotation(tiny, tmp_path):
    path, options = with_broken_train_file(
        tiny, tmp_path, lambda d: d['annotations'][2].update(id=0))
    result = call_tool(['tools/train.py', 'configs/retinanet_ghostnet_small.py', '--work-dir',
                        str(tmp_path / 'work'), '--cfg-options', *as_cli(options)])
    assert result.returncode == 1
    assert 'Traceback' not in result.stderr
    assert f'{path}: annotation id 0 is used' in result.stderr


def test_train_logs_what_mmdet_skips_unless_told_not_to_check(tiny, tmp_path):
    def shrink_a_box(data):
        data['annotations'][0]['bbox'][2] = 0.5

    path, options = with_broken_train_file(tiny, tmp_path, shrink_a_box)
    for skip, expected in (([], 1), (['--skip-data-check'], 0)):
        work_dir = tmp_path / f'work{len(skip)}'
        result = call_tool(['tools/train.py', 'configs/retinanet_ghostnet_small.py',
                            '--work-dir', str(work_dir), *skip, '--cfg-options',
                            *as_cli(options)])
        assert result.returncode == 0, result.stderr[-2000:]
        assert (result.stdout + result.stderr).count(f'{path}: MMDetection skips 1 of') == \
            expected
        assert osp.isfile(work_dir / 'epoch_1.pth')


def test_ddp_ranks_stop_on_rank_0s_verdict(tiny, tmp_path):
    import os
    import subprocess
    import sys
    from conftest import REPO
    path, options = with_broken_train_file(
        tiny, tmp_path, lambda d: d['annotations'][1].pop('area'))
    env = dict(os.environ, PYTHON=sys.executable, PORT='29519', OMP_NUM_THREADS='1')
    result = subprocess.run(
        ['bash', 'tools/dist_train.sh', 'configs/retinanet_ghostnet_small.py', '2',
         '--work-dir', str(tmp_path / 'work'), '--cfg-options', *as_cli(options)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    # Both ranks stop with rank 0's message rather than hang (within the timeout), each
    # printing it before either exits (torchrun kills the others once one exits).
    errors = [line for line in result.stderr.splitlines() if line.startswith('error: ')]
    assert len(errors) == 2
    assert all(f'{path}: 1 annotation entries have no "area"' in line for line in errors)


def test_semantics_on_a_copy_do_not_touch_the_input():
    data = valid()
    before = copy.deepcopy(data)
    from ghostdet.data_check import check_coco_dict
    check_coco_dict(data, source='x', classes=CLASSES)
    assert data == before


def test_an_image_info_file_without_annotations_is_accepted(tmp_path):
    """COCO test-dev's image_info file lists images and categories only."""
    data = valid()
    del data['annotations']
    report = check_coco_annotations(write(tmp_path, data), classes=CLASSES)
    assert (report.num_images, report.num_annotations) == (2, 0)
