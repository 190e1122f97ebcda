"""Validation of COCO detection annotation files, with MMDetection 3.3's semantics.

What MMDetection's ``CocoDataset`` itself skips (annotations of empty boxes,
of boxes outside their image, of unknown images or categories, marked
``ignore``) is counted and reported as a warning. What breaks training or
evaluation, or silently corrupts mAP, is an error that names the entries and
the fix: a missing ``bbox``, ``area``, ``iscrowd``, ``width`` or ``height``;
non-finite numbers; annotation id 0 (pycocotools reads 0 as "unmatched");
duplicate ids; config class names that match no category of the file (the
labels of the classes after them would shift).

The check runs on the dict MMDetection parses anyway (see
:mod:`ghostdet.data_check.coco_loading`), in one vectorised pass: on a file
the size of COCO train2017 it adds a small fraction to MMDetection's own
loading time.
"""
import json
import math
import os
from collections import Counter
from itertools import repeat
from operator import itemgetter
from typing import Dict, List, NamedTuple, Optional, Sequence

import numpy as np

from ..errors import DatasetError

_SHOW = 5  # ids named per problem

# Why MMDetection 3.3's CocoDataset.parse_data_info skips an annotation, in
# the order it tests them.
SKIP_REASONS = {
    'unknown_image': 'refer to an image id not in "images" (never read)',
    'ignore': 'are marked "ignore"',
    'outside_image': 'have a box with no area inside its image',
    'empty_box': 'have a box under 1 px wide or high, or area <= 0',
    'unknown_category': 'have a category_id not in "categories" or not in the config\'s '
                        'classes',
}


class CocoReport(NamedTuple):
    """What :func:`check_coco_dict` found in a valid file.

    Attributes:
        num_images (int): Images listed.
        num_annotations (int): Annotations listed.
        num_categories (int): Categories listed.
        skipped (dict[str, list]): Per reason of :data:`SKIP_REASONS`, the ids
            of the annotations MMDetection skips for it.
    """
    num_images: int
    num_annotations: int
    num_categories: int
    skipped: Dict[str, list]

    def warning(self, source: str) -> Optional[str]:
        """One line for the log about what MMDetection skips, or None."""
        parts = [f'{len(ids)} {SKIP_REASONS[reason]} (e.g. annotation ids {ids[:_SHOW]})'
                 for reason, ids in self.skipped.items() if ids]
        if not parts:
            return None
        total = sum(len(ids) for ids in self.skipped.values())
        return (f'{source}: MMDetection skips {total} of {self.num_annotations} annotations: '
                + '; '.join(parts) + '.')


def load_coco_json(ann_file: str) -> dict:
    """Read an annotation file, with errors that name it and the fix."""
    ann_file = os.fspath(ann_file)
    try:
        with open(ann_file, encoding='utf-8') as f:
            data = json.load(f)
    except FileNotFoundError:
        raise DatasetError(
            f'{ann_file}: annotation file not found. Check the path (configs join data_root '
            'and ann_file); for the generated dataset run tools/make_dataset.py first.') from None
    except json.JSONDecodeError as e:
        raise DatasetError(
            f'{ann_file}: not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}. The '
            'file may be truncated or not a COCO annotation file; regenerate or re-download '
            'it.') from None
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f'{ann_file}: cannot be read ({e}). Check the path and its '
                           'permissions.') from None
    return data


def check_coco_annotations(ann_file: str, *, classes: Optional[Sequence[str]] = None
                           ) -> CocoReport:
    """Load and check a COCO detection annotation file; see
    :func:`check_coco_dict`."""
    return check_coco_dict(load_coco_json(ann_file), source=os.fspath(ann_file),
                           classes=classes)


class _Checker:

    def __init__(self, source):
        self.source = source

    def fail(self, problem: str, fix: str):
        raise DatasetError(f'{self.source}: {problem}. {fix}')

    def field(self, entries: list, key: str, kind: str, fix: str) -> list:
        """``[entry[key] for entry in entries]``, or an error naming the
        first entry without it."""
        try:
            return list(map(itemgetter(key), entries))
        except (KeyError, TypeError, IndexError):
            bad = next(e for e in entries if not isinstance(e, dict) or key not in e)
            where = _describe(bad, kind)
            count = sum(not isinstance(e, dict) or key not in e for e in entries)
            self.fail(f'{count} {kind} entries have no "{key}", e.g. {where}', fix)

    def numbers(self, values: list, what: str, ids: list, kind: str, fix: str,
                shape=None) -> np.ndarray:
        """``values`` as a float array (of ``shape`` per entry), or an error
        naming the first entries that are not finite numbers."""
        try:
            array = np.asarray(values)  # numbers give a numeric dtype, anything else not
            if array.dtype.kind not in 'iuf' or array.ndim != 1 + (shape is not None) or (
                    shape is not None and array.shape[1:] != (shape, )):
                raise ValueError
            array = array.astype(np.float64)
            bad = ~np.isfinite(array) if shape is None else ~np.isfinite(array).all(1)
        except (ValueError, TypeError, OverflowError):
            bad = np.array([not _is_numbers(v, shape) for v in values], dtype=bool)
        if bad.any():
            examples = [f'{kind} id {ids[i]!r}: {values[i]!r}' for i in np.flatnonzero(bad)
                        [:_SHOW]]
            self.fail(f'{int(bad.sum())} {kind} entries have a "{what}" that is not '
                      f'{"finite numbers" if shape else "a finite number"}: '
                      + ', '.join(examples), fix)
        return array

    def ids(self, entries: list, key: str, kind: str, fix: str, *, unique: bool) -> list:
        """The integer ``key`` of every entry (unique if asked), or an error
        naming the entries that break that."""
        values = self.field(entries, key, kind, fix)
        if not set(map(type, values)) <= {int}:
            bad = [v for v in values if type(v) is not int]
            self.fail(f'{len(bad)} {kind} entries have a "{key}" that is not an integer, e.g. '
                      f'{[repr(v)[:40] for v in bad[:_SHOW]]}', fix)
        if unique and len(set(values)) != len(values):
            duplicates = [i for i, n in Counter(values).items() if n > 1]
            self.fail(f'{len(duplicates)} {kind} ids are used more than once, e.g. '
                      f'{duplicates[:_SHOW]}', fix)
        return values


def _describe(entry, kind):
    text = repr(entry)
    text = text if len(text) <= 80 else text[:80] + '...'
    return f'the {kind} entry {text}'


def _is_numbers(value, shape):
    items = value if shape else [value]
    if shape and (not isinstance(value, (list, tuple)) or len(value) != shape):
        return False
    return all(_is_finite_number(v) for v in items)


def _is_finite_number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def check_coco_dict(data: dict, *, source: str,
                    classes: Optional[Sequence[str]] = None) -> CocoReport:
    """Check a parsed COCO detection annotation file.

    Args:
        data (dict): The parsed JSON.
        source (str): Its file name, for messages.
        classes (Sequence[str], optional): The config's ``metainfo.classes``;
            each must be the name of a category of the file.

    Returns:
        CocoReport: Counts, and what MMDetection will skip.

    Raises:
        DatasetError: On the first problem that breaks training or
            evaluation or corrupts mAP; the message names the entries and
            the fix.
    """
    check = _Checker(source)
    if not isinstance(data, dict):
        check.fail(f'top level is a {type(data).__name__}, not an object',
                   'A COCO file is a JSON object with "images", "annotations" and '
                   '"categories" lists.')
    # An image-info file (COCO test-dev) has no "annotations": as empty.
    missing = [key for key in ('images', 'annotations', 'categories')
               if not isinstance(data.get(key, [] if key == 'annotations' else None), list)]
    if missing:
        check.fail(f'missing or non-list top-level key(s) {missing}',
                   'A COCO detection file needs "images", "annotations" and "categories" '
                   'lists (an empty list is fine).')
    images, annotations, categories = data['images'], data.get('annotations', []), \
        data['categories']

    category_fix = 'Give every category a unique integer "id" and a unique "name".'
    category_ids = check.ids(categories, 'id', 'category', category_fix, unique=True)
    names = check.field(categories, 'name', 'category', category_fix)
    if not all(isinstance(name, str) for name in names):
        check.fail('category names must be strings', category_fix)
    if len(set(names)) != len(names):
        check.fail(f'category names are used more than once: '
                   f'{[n for n, k in Counter(names).items() if k > 1]}', category_fix)
    if classes is not None:
        unmatched = [name for name in classes if name not in set(names)]
        if unmatched:
            check.fail(f"the config's classes {unmatched} match no category name of the file "
                       f'(it has {names[:20]}{" ..." if len(names) > 20 else ""}); MMDetection '
                       f'would silently give the classes after them the wrong labels',
                       'Set metainfo=dict(classes=...) in the dataset config to names the '
                       'file uses.')

    image_fix = ('Every image needs a unique integer "id", "file_name" (relative to the image '
                 'folder), and "width" and "height" in pixels.')
    image_ids = check.ids(images, 'id', 'image', image_fix, unique=True)
    file_names = check.field(images, 'file_name', 'image', image_fix)
    if not set(map(type, file_names)) <= {str} or '' in set(file_names):
        bad = [i for i, name in zip(image_ids, file_names) if not isinstance(name, str) or not name]
        check.fail(f'{len(bad)} images have a "file_name" that is not a file name, e.g. image ids '
                   f'{bad[:_SHOW]}', image_fix)
    sizes = np.stack([
        check.numbers(check.field(images, key, 'image', image_fix), key, image_ids, 'image',
                      image_fix) for key in ('width', 'height')], 1) if images else \
        np.zeros((0, 2))
    if (sizes <= 0).any():
        bad = np.flatnonzero((sizes <= 0).any(1))
        check.fail(f'{len(bad)} images have a width or height <= 0, e.g. image ids '
                   f'{[image_ids[i] for i in bad[:_SHOW]]}', image_fix)

    ann_fix = ('Every annotation needs a unique non-zero integer "id", "image_id", '
               '"category_id", "bbox" [x, y, width, height], "area" and "iscrowd" (0 or 1).')
    ann_ids = check.ids(annotations, 'id', 'annotation', ann_fix, unique=True)
    if 0 in set(ann_ids):
        check.fail('annotation id 0 is used: pycocotools\' evaluation reads id 0 as '
                   '"no match", which silently lowers mAP', 'Renumber the annotations from 1.')
    fields = {key: check.ids(annotations, key, 'annotation', ann_fix, unique=False)
              for key in ('image_id', 'category_id')}
    fields.update({key: check.field(annotations, key, 'annotation', ann_fix)
                   for key in ('bbox', 'area', 'iscrowd')})
    boxes = check.numbers(fields['bbox'], 'bbox', ann_ids, 'annotation', ann_fix, shape=4) \
        if annotations else np.zeros((0, 4))
    areas = check.numbers(fields['area'], 'area', ann_ids, 'annotation', ann_fix)
    flags = fields['iscrowd']
    if not (set(map(type, flags)) <= {int, bool} and set(flags) <= {0, 1}):
        not_flags = [v for v in flags if type(v) not in (int, bool) or v not in (0, 1)]
        check.fail(f'{len(not_flags)} annotations have an "iscrowd" that is not 0 or 1, e.g. '
                   f'{[repr(v)[:40] for v in not_flags[:_SHOW]]}', ann_fix)

    skipped = _skipped_like_mmdet(annotations, ann_ids, fields, boxes, areas, image_ids, sizes,
                                  category_ids, names, classes)
    return CocoReport(len(images), len(annotations), len(categories), skipped)


def _skipped_like_mmdet(annotations, ann_ids, fields, boxes, areas, image_ids, sizes,
                        category_ids, names, classes) -> Dict[str, List]:
    """The annotations ``CocoDataset.parse_data_info`` drops, by reason, each
    counted under the first reason it meets there."""
    row_of_image = {image_id: row for row, image_id in enumerate(image_ids)}
    rows = np.fromiter(map(row_of_image.get, fields['image_id'], repeat(-1)), dtype=np.int64,
                       count=len(annotations))
    known_image = rows >= 0
    width_height = sizes[np.where(known_image, rows, 0)] if len(sizes) else \
        np.ones((len(rows), 2))
    x, y, w, h = boxes.T if len(boxes) else np.zeros((4, 0))
    inter_w = np.maximum(0, np.minimum(x + w, width_height[:, 0]) - np.maximum(x, 0))
    inter_h = np.maximum(0, np.minimum(y + h, width_height[:, 1]) - np.maximum(y, 0))
    used = set(category_ids) if classes is None else {
        i for i, name in zip(category_ids, names) if name in set(classes)}
    reasons = {
        'unknown_image': ~known_image,
        'ignore': np.fromiter(map(bool, map(dict.get, annotations, repeat('ignore'))),
                              dtype=bool, count=len(annotations)),
        'outside_image': inter_w * inter_h == 0,
        'empty_box': (areas <= 0) | (w < 1) | (h < 1),
        'unknown_category': ~np.fromiter(map(used.__contains__, fields['category_id']),
                                         dtype=bool, count=len(annotations)),
    }
    taken = np.zeros(len(annotations), dtype=bool)
    skipped = {}
    for reason, mask in reasons.items():
        mask = mask & ~taken
        skipped[reason] = [ann_ids[i] for i in np.flatnonzero(mask)]
        taken |= mask
    return skipped
