"""Validation of COCO detection annotation files, with actionable errors.

MMDetection and pycocotools fail on a broken annotation file with a bare
``KeyError`` or an assertion deep inside the data pipeline, often only after
the model has been built. :func:`check_coco_annotations` finds the common
mistakes up front and says which entry is wrong and how to fix it.
"""
import json
import math
import os

_REQUIRED_KEYS = ('images', 'annotations', 'categories')
_BOX_TOLERANCE = 1.0  # pixels a box may stick out of its image
_SHOW_MISSING = 5


class DatasetError(ValueError):
    """A dataset or annotation file that cannot be used as it is."""


def check_coco_annotations(ann_file, img_dir=None, check_images=True):
    """Validate a COCO-format detection annotation file.

    Checks, in one pass over each list: the file exists and is valid JSON;
    the top-level ``images``, ``annotations`` and ``categories`` lists exist;
    ids are unique; every image has ``file_name``, ``width`` and ``height``;
    every annotation refers to a known image and category and has a
    ``bbox`` of 4 finite numbers with positive width and height lying inside
    its image (1 px tolerance); and, if ``check_images`` and ``img_dir`` are
    given, that every listed image file exists.

    Args:
        ann_file (str): Path of the annotation JSON file.
        img_dir (str, optional): Folder that ``file_name`` is relative to.
            Default: None, image files are not checked.
        check_images (bool): Check that the image files exist (needs
            ``img_dir``). Default: True.

    Returns:
        dict: ``num_images``, ``num_annotations`` and ``num_categories``.

    Raises:
        DatasetError: On the first problem found; the message names the file,
            the offending entry and how to fix it.
    """
    ann_file = os.fspath(ann_file)
    data = _load(ann_file)

    def fail(problem, fix):
        raise DatasetError(f'{ann_file}: {problem}. {fix}')

    if not isinstance(data, dict):
        fail(f'top level is a {type(data).__name__}, not an object',
             'A COCO file is a JSON object with "images", "annotations" and '
             '"categories" lists.')
    missing = [key for key in _REQUIRED_KEYS
               if not isinstance(data.get(key), list)]
    if missing:
        fail(f'missing or non-list top-level key(s) {missing}',
             'A COCO detection file needs "images", "annotations" and '
             '"categories" lists (an empty list is fine).')

    categories = set()
    for cat in data['categories']:
        cat_id = cat.get('id') if isinstance(cat, dict) else None
        if not isinstance(cat_id, (int, str)):
            fail(f'category entry {_short(cat)} has no integer "id"',
                 'Give every category a unique integer "id" and a "name".')
        if cat_id in categories:
            fail(f'duplicate category id {cat_id!r}',
                 'Category ids must be unique; renumber the categories and '
                 'their annotations\' "category_id".')
        categories.add(cat_id)

    sizes = {}
    for img in data['images']:
        img_id = img.get('id') if isinstance(img, dict) else None
        if not isinstance(img_id, (int, str)):
            fail(f'image entry {_short(img)} has no integer "id"',
                 'Give every image a unique integer "id".')
        if img_id in sizes:
            fail(f'duplicate image id {img_id!r}',
                 'Image ids must be unique; renumber the images and their '
                 'annotations\' "image_id".')
        absent = [key for key in ('file_name', 'width', 'height')
                  if key not in img]
        if absent:
            fail(f'image id {img_id!r} has no {absent}',
                 'Every image needs "file_name" (relative to the image '
                 'folder), "width" and "height" in pixels.')
        width, height = img['width'], img['height']
        if not (_is_number(width) and _is_number(height) and width > 0
                and height > 0):
            fail(f'image id {img_id!r} has width={width!r}, '
                 f'height={height!r}',
                 'Set "width" and "height" to the positive pixel size of '
                 'the image file.')
        sizes[img_id] = (width, height)

    ann_ids = set()
    for ann in data['annotations']:
        ann_id = ann.get('id') if isinstance(ann, dict) else None
        if not isinstance(ann_id, (int, str)):
            fail(f'annotation entry {_short(ann)} has no integer "id"',
                 'Give every annotation a unique integer "id".')
        if ann_id in ann_ids:
            fail(f'duplicate annotation id {ann_id!r}',
                 'Annotation ids must be unique; renumber the annotations.')
        ann_ids.add(ann_id)
        size = sizes.get(ann.get('image_id'))
        if size is None:
            fail(f'{_where(ann)} refers to an image id not in "images"',
                 'Add the image to "images" or drop the annotation.')
        if ann.get('category_id') not in categories:
            fail(f'{_where(ann)} has category_id {ann.get("category_id")!r}, '
                 f'not in "categories"',
                 'Use one of the ids listed in "categories" or add the '
                 'category.')
        bbox = ann.get('bbox')
        if not (isinstance(bbox, list) and len(bbox) == 4
                and all(_is_number(v) and math.isfinite(v) for v in bbox)):
            fail(f'{_where(ann)} has bbox {bbox!r}, not 4 finite numbers',
                 'Boxes are [x, y, width, height] in pixels.')
        x, y, w, h = bbox
        if w <= 0 or h <= 0:
            fail(f'{_where(ann)} has bbox {bbox} with width or height <= 0',
                 'Boxes are [x, y, width, height], not [x1, y1, x2, y2]; '
                 'drop empty boxes.')
        tol = _BOX_TOLERANCE
        if (x < -tol or y < -tol or x + w > size[0] + tol
                or y + h > size[1] + tol):
            fail(f'{_where(ann)} has bbox {bbox} outside its '
                 f'{size[0]}x{size[1]} image',
                 'Clip the box to the image, or fix the image\'s "width" '
                 'and "height" (boxes are [x, y, width, height]).')

    if check_images and img_dir is not None:
        _check_files(ann_file, data['images'], os.fspath(img_dir))
    return dict(num_images=len(sizes), num_annotations=len(ann_ids),
                num_categories=len(categories))


def _load(ann_file):
    try:
        with open(ann_file, encoding='utf-8') as f:
            return json.load(f)
    except FileNotFoundError:
        raise DatasetError(
            f'{ann_file}: annotation file not found. Check the path (configs '
            'join data_root and ann_file); for the synthetic dataset run '
            'tools/make_dataset.py first.') from None
    except json.JSONDecodeError as e:
        raise DatasetError(
            f'{ann_file}: not valid JSON: {e.msg} at line {e.lineno}, column '
            f'{e.colno}. The file may be truncated or not a COCO annotation '
            'file; regenerate or re-download it.') from None
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f'{ann_file}: cannot be read ({e}). Check the '
                           'path and its permissions.') from None


def _check_files(ann_file, images, img_dir):
    names = dict.fromkeys(str(img['file_name']) for img in images)
    missing = [name for name in names
               if not os.path.exists(os.path.join(img_dir, name))]
    if missing:
        raise DatasetError(
            f'{ann_file}: {len(missing)} of {len(names)} image files are '
            f'missing from {img_dir}, e.g. {missing[:_SHOW_MISSING]}. Point '
            'the image folder (data_prefix) at the folder "file_name" is '
            'relative to, or fetch the missing images.')


def _where(ann):
    return f'annotation id {ann["id"]!r} (image_id {ann.get("image_id")!r})'


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _short(entry, limit=80):
    text = repr(entry)
    return text if len(text) <= limit else text[:limit] + '...'
