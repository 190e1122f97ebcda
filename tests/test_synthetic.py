"""The generated shapes dataset (ghostdet.synthetic)."""
import contextlib
import io
import json
import os

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from ghostdet.data_check import check_coco_annotations
from ghostdet.synthetic import CLASSES, make_coco_dataset


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    """60 images: enough for every class, size and crowding to show up."""
    out = tmp_path_factory.mktemp('shapes')
    info = make_coco_dataset(out, num_train=48, num_val=12, seed=0)
    with open(info['train_ann_file'], encoding='utf-8') as f:
        return info, json.load(f)


def _load(path):
    with open(path, 'rb') as f:
        return f.read()


def _pixels(img_dir, file_name):
    return np.asarray(Image.open(os.path.join(img_dir, file_name)))


def _small(tmp_path, name, seed):
    return make_coco_dataset(tmp_path / name, num_train=6, num_val=4, seed=seed,
                             max_size=288)


def test_same_seed_gives_identical_files(tmp_path):
    a, b = _small(tmp_path, 'a', 3), _small(tmp_path, 'b', 3)
    for split in ('train', 'val'):
        assert _load(a[f'{split}_ann_file']) == _load(b[f'{split}_ann_file'])
        names = sorted(os.listdir(a[f'{split}_img_dir']))
        assert names == sorted(os.listdir(b[f'{split}_img_dir']))
        assert len(names) == (6 if split == 'train' else 4)
        for name in names:
            np.testing.assert_array_equal(_pixels(a[f'{split}_img_dir'], name),
                                          _pixels(b[f'{split}_img_dir'], name))


def test_other_seed_and_other_split_differ(tmp_path):
    a, b = _small(tmp_path, 'a', 3), _small(tmp_path, 'b', 4)
    assert _load(a['train_ann_file']) != _load(b['train_ann_file'])
    assert (_pixels(a['train_img_dir'], '000001.jpg').shape !=
            _pixels(b['train_img_dir'], '000001.jpg').shape
            or not np.array_equal(_pixels(a['train_img_dir'], '000001.jpg'),
                                  _pixels(b['train_img_dir'], '000001.jpg')))
    # Train and val of one seed come from different generators.
    train_boxes = [ann['bbox'] for ann in json.loads(_load(a['train_ann_file']))['annotations']]
    val_boxes = [ann['bbox'] for ann in json.loads(_load(a['val_ann_file']))['annotations']]
    assert not any(box in train_boxes for box in val_boxes)


def test_format_and_info_block(shapes):
    info, coco = shapes
    assert [c['name'] for c in coco['categories']] == list(CLASSES)
    assert [c['id'] for c in coco['categories']] == list(range(1, len(CLASSES) + 1))
    assert {c['supercategory'] for c in coco['categories']} == {'shape'}
    assert coco['info']['generator'] == 'ghostdet.synthetic.shapes'
    assert coco['info']['seed'] == 0 and coco['info']['args']['num_train'] == 48
    assert len({img['id'] for img in coco['images']}) == info['num_train_images'] == 48
    assert len({ann['id'] for ann in coco['annotations']}) == len(coco['annotations'])
    for ann in coco['annotations']:
        assert ann['iscrowd'] == 0 and ann['area'] > 0
        assert len(ann['segmentation'][0]) >= 6
    report = check_coco_annotations(info['train_ann_file'], classes=CLASSES)
    assert report.num_images == 48 and report.num_categories == len(CLASSES)
    assert report.num_annotations == len(coco['annotations'])
    assert not any(report.skipped.values())  # MMDetection uses every box
    check_coco_annotations(info['val_ann_file'], classes=CLASSES)


def test_image_sizes_vary_and_match_files(shapes):
    info, coco = shapes
    for img in coco['images']:
        with Image.open(os.path.join(info['train_img_dir'], img['file_name'])) as im:
            assert im.size == (img['width'], img['height'])
        assert 256 <= img['width'] <= 384 and 256 <= img['height'] <= 384
    assert len({(img['width'], img['height']) for img in coco['images']}) > 40


def test_every_class_appears(shapes):
    _, coco = shapes
    counts = np.bincount([ann['category_id'] for ann in coco['annotations']],
                         minlength=len(CLASSES) + 1)[1:]
    assert counts.min() >= 5, counts


def test_boxes_are_tight_and_inside_images(shapes):
    _, coco = shapes
    sizes = {img['id']: (img['width'], img['height']) for img in coco['images']}
    for ann in coco['annotations']:
        x, y, w, h = ann['bbox']
        width, height = sizes[ann['image_id']]
        assert w > 0 and h > 0
        assert x >= 0 and y >= 0 and x + w <= width and y + h <= height
        poly = np.array(ann['segmentation'][0]).reshape(-1, 2)
        np.testing.assert_allclose([x, y, x + w, y + h],
                                   [*poly.min(0), *poly.max(0)], atol=0.011)


def test_sizes_span_small_to_large(shapes):
    _, coco = shapes
    short = {img['id']: min(img['width'], img['height']) for img in coco['images']}
    extents = [max(ann['bbox'][2:]) for ann in coco['annotations']]
    relative = [max(ann['bbox'][2:]) / short[ann['image_id']] for ann in coco['annotations']]
    assert min(extents) <= 14
    assert max(relative) >= 0.45
    # Roughly log-uniform: small, medium and large objects all common.
    assert sum(e < 32 for e in extents) >= 0.2 * len(extents)
    assert sum(e > 96 for e in extents) >= 0.1 * len(extents)


def test_crowded_images_with_overlaps(shapes):
    _, coco = shapes
    per_image = {}
    for ann in coco['annotations']:
        per_image.setdefault(ann['image_id'], []).append(ann['bbox'])
    assert min(len(v) for v in per_image.values()) >= 1
    assert sum(len(v) >= 4 for v in per_image.values()) >= 5

    def overlap(a, b):
        return (min(a[0] + a[2], b[0] + b[2]) > max(a[0], b[0])
                and min(a[1] + a[3], b[1] + b[3]) > max(a[1], b[1]))

    overlapping = sum(overlap(a, b) for boxes in per_image.values()
                      for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert overlapping >= 5


def test_occlusion_leaves_half_of_each_object_visible(shapes):
    _, coco = shapes
    sizes = {img['id']: (img['height'], img['width']) for img in coco['images']}
    per_image = {}
    for ann in coco['annotations']:
        per_image.setdefault(ann['image_id'], []).append(ann)
    occluded = 0
    for image_id, anns in per_image.items():
        h, w = sizes[image_id]
        masks = [mask_utils.decode(mask_utils.merge(
            mask_utils.frPyObjects(ann['segmentation'], h, w))).astype(bool)
            for ann in anns]
        for i, own in enumerate(masks):
            hidden = np.zeros_like(own)
            for later in masks[i + 1:]:
                hidden |= later
            visible = (own & ~hidden).sum() / max(own.sum(), 1)
            # 0.5 is the generator's limit; polygon rasterisation differs a bit.
            assert visible >= 0.4, (image_id, anns[i]['id'], visible)
            occluded += visible < 0.95
    assert occluded >= 3


def test_ground_truth_scores_ap_one(shapes):
    info, coco = shapes
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(info['train_ann_file'])
        dets = [dict(image_id=ann['image_id'], category_id=ann['category_id'],
                     bbox=ann['bbox'], score=1.0) for ann in coco['annotations']]
        evaluator = COCOeval(gt, gt.loadRes(dets), 'bbox')
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    assert evaluator.stats[0] == pytest.approx(1.0)
    assert evaluator.stats[3] == pytest.approx(1.0)  # AP of small objects


def test_refuses_foreign_directory(tmp_path):
    out = tmp_path / 'mine'
    out.mkdir()
    (out / 'notes.txt').write_text('keep me')
    with pytest.raises(FileExistsError, match='overwrite=True') as error:
        make_coco_dataset(out, num_train=1, num_val=1)
    assert str(out) in str(error.value)
    assert not (out / 'annotations').exists()

    make_coco_dataset(out, num_train=1, num_val=1, overwrite=True)
    assert (out / 'notes.txt').read_text() == 'keep me'
    # A directory this function made is regenerated without overwrite=True.
    info = make_coco_dataset(out, num_train=2, num_val=1)
    assert info['num_train_images'] == 2
    assert not [p for p in os.listdir(out / 'train') if '.tmp' in p]


def test_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='min_size'):
        make_coco_dataset(tmp_path / 'x', min_size=400, max_size=300)
    with pytest.raises(ValueError, match='seed'):
        make_coco_dataset(tmp_path / 'x', seed=-1)
