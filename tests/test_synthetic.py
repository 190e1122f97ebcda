"""The generated shapes dataset (ghostdet.synthetic)."""
import json
import os

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

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


def _edge_contrast(pixels, polygon, hidden, offset, reach=2.0):
    """Median colour difference between the points ``reach`` px inside and
    outside the polygon's edges (moved by ``offset``), over the edge points
    whose two pixels are in the image and not near a later (covering) object;
    and how many such points there were."""
    polygon = polygon + offset
    following = np.roll(polygon, -1, 0)
    x, y = polygon.T
    outward = 1 if np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)) > 0 else -1
    points, normals = [], []
    for start, end in zip(polygon, following):
        length = np.hypot(*(end - start))
        if length < 1:
            continue
        t = (np.arange(int(length)) + 0.5)[:, None] / int(length)
        points.append(start + t * (end - start))
        normals.append(np.broadcast_to(outward * np.array([end[1] - start[1],
                                                           start[0] - end[0]]) / length,
                                       (len(t), 2)))
    points, normals = np.concatenate(points), np.concatenate(normals)
    height, width = hidden.shape
    inside = np.floor(points - reach * normals).astype(int)
    outside = np.floor(points + reach * normals).astype(int)
    valid = np.ones(len(points), bool)
    for ends in (inside, outside):
        valid &= (ends >= 0).all(1) & (ends[:, 0] < width) & (ends[:, 1] < height)
    inside, outside = inside[valid], outside[valid]
    seen = ~hidden[inside[:, 1], inside[:, 0]] & ~hidden[outside[:, 1], outside[:, 0]]
    inside, outside = inside[seen], outside[seen]
    if len(inside) == 0:
        return 0.0, 0
    difference = (pixels[inside[:, 1], inside[:, 0]].astype(float) -
                  pixels[outside[:, 1], outside[:, 0]])
    return float(np.median(np.linalg.norm(difference, axis=1))), len(inside)


def test_annotations_lie_on_the_drawn_shapes_edges(shapes):
    """Each annotation's polygon, whose extent its box is, lies on the edges
    of the shape in the image: the colour changes most across the polygon as
    annotated, less across it moved 3 px any way. A box or polygon off by a
    pixel or two, or scaled, fails this."""
    info, coco = shapes
    images = {img['id']: img for img in coco['images']}
    per_image = {}
    for ann in coco['annotations']:
        per_image.setdefault(ann['image_id'], []).append(ann)
    shifts = [(3, 0), (-3, 0), (0, 3), (0, -3)]
    results = []
    for image_id, anns in per_image.items():
        img = images[image_id]
        pixels = _pixels(info['train_img_dir'], img['file_name'])
        h, w = img['height'], img['width']
        masks = [mask_utils.decode(mask_utils.frPyObjects(ann['segmentation'], h, w))[..., 0]
                 .astype(bool) for ann in anns]
        for index, ann in enumerate(anns):
            polygon = np.array(ann['segmentation'][0]).reshape(-1, 2)
            x, y, bw, bh = ann['bbox']
            np.testing.assert_allclose([x, y, x + bw, y + bh],
                                       [*polygon.min(0), *polygon.max(0)], atol=0.011)
            if min(bw, bh) < 16:
                continue  # too small for edges 2 px inside and out
            hidden = np.zeros((h, w), bool)
            for later in masks[index + 1:]:  # drawn after it, over it
                hidden |= later
            grown = np.pad(hidden, 2)  # and 2 px around them: blended edges
            hidden = np.zeros_like(grown)
            for dy in range(-2, 3):
                for dx in range(-2, 3):
                    hidden |= np.roll(grown, (dy, dx), (0, 1))
            hidden = hidden[2:-2, 2:-2]
            annotated, count = _edge_contrast(pixels, polygon, hidden, (0, 0))
            if count < 20:
                continue  # mostly hidden
            moved = max(_edge_contrast(pixels, polygon, hidden, shift)[0] for shift in shifts)
            results.append((ann['id'], annotated, moved))
    assert len(results) >= 50
    # (ann id, contrast as annotated, best contrast moved) of the objects where
    # moving the annotation finds the edges as well or better.
    worse = [r for r in results if r[1] <= r[2]]
    assert len(worse) <= 0.05 * len(results), worse
    assert np.median([r[1] for r in results]) > 1.4 * np.median([r[2] for r in results])


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
