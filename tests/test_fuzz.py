"""Fuzzing the annotation check and the image check: every mutated input ends
in acceptance or a named error, never another exception or a hang."""
import copy
import io
import json

import numpy as np
import pytest
from PIL import Image

from ghostdet.data_check import check_coco_dict
from ghostdet.data_check.images import CheckedLoadImageFromFile
from ghostdet.errors import BadImageError, DatasetError
from ghostdet.synthetic import CLASSES

CASES = 1200
ODD_VALUES = [None, 'x', '', [], {}, [1, 2], True, 1.5, -1, 0, 10**20, -10**20, float('nan'),
              float('inf'), -float('inf'), 1e308]


def valid_annotations():
    return dict(
        images=[dict(id=i, file_name=f'{i}.jpg', width=64 + i, height=48 + i)
                for i in range(1, 5)],
        annotations=[dict(id=i, image_id=1 + i % 4, category_id=1 + i % len(CLASSES),
                          bbox=[2.0 + i, 3.0, 20.0, 10.0 + i], area=200.0 + i, iscrowd=i % 2)
                     for i in range(1, 9)],
        categories=[dict(id=i + 1, name=name) for i, name in enumerate(CLASSES)])


def mutate(data, rng):
    """One random mutation, in place; returns its kind."""
    kind = str(rng.choice(['drop key', 'wrong type', 'bad number', 'unknown id',
                           'duplicate entry', 'drop entry', 'drop list']))
    present = [key for key in ('images', 'annotations', 'categories')
               if isinstance(data.get(key), list)]
    if not present:
        return kind
    if kind == 'drop list':
        data.pop(rng.choice(present))
        return kind
    section = data[rng.choice(present)]
    if not section:
        return kind
    entry = section[rng.integers(len(section))]
    if not isinstance(entry, dict) or not entry:
        return kind
    key = rng.choice(sorted(entry))
    if kind == 'drop key':
        entry.pop(key)
    elif kind == 'wrong type':
        entry[key] = copy.deepcopy(ODD_VALUES[rng.integers(len(ODD_VALUES))])
    elif kind == 'bad number':
        value = rng.choice([float('nan'), -5.0, 1e30, -1e30, 0.0, float('inf')])
        if isinstance(entry.get('bbox'), list) and key == 'bbox' and entry['bbox']:
            entry['bbox'][rng.integers(len(entry['bbox']))] = value
        else:
            entry[key] = value
    elif kind == 'unknown id':
        field = rng.choice(['id', 'image_id', 'category_id'])
        entry[field] = int(rng.integers(-3, 1000))
    elif kind == 'duplicate entry':
        section.append(copy.deepcopy(entry))
    elif kind == 'drop entry':
        section.remove(entry)
    return kind


def mmdet_loads(data, tmp_path):
    """MMDetection itself builds its dataset from an accepted file (not
    serialized: packing the list into bytes runs a full garbage collection,
    99% of this test's time, and proves nothing about the file)."""
    from mmdet.datasets import CocoDataset
    path = tmp_path / 'accepted.json'
    path.write_text(json.dumps(data))
    dataset = CocoDataset(ann_file=str(path), metainfo=dict(classes=CLASSES),
                          data_prefix=dict(img=''), pipeline=[], test_mode=True,
                          serialize_data=False)
    return len(dataset)


def test_mutated_annotation_files_are_accepted_or_named(tmp_path):
    rng = np.random.default_rng(2026)
    tried, outcomes = {}, {'accepted': 0, 'named error': 0}
    for case in range(CASES):
        data = valid_annotations()
        kinds = [mutate(data, rng) for _ in range(rng.integers(1, 4))]
        for kind in kinds:
            tried[kind] = tried.get(kind, 0) + 1
        try:
            check_coco_dict(data, source='fuzz.json', classes=CLASSES)
        except DatasetError as error:
            assert str(error).startswith('fuzz.json: '), (kinds, error)
            outcomes['named error'] += 1
            continue
        except Exception as error:  # anything else is a bug
            pytest.fail(f'case {case} {kinds}: {type(error).__name__}: {error}')
        if outcomes['accepted'] % 3 == 0:  # MMDetection itself loads what was accepted
            assert mmdet_loads(data, tmp_path) == len(data['images']), kinds
        outcomes['accepted'] += 1
    print(f'\nannotation fuzzing: {CASES} files, mutations {tried}, outcomes {outcomes}')
    assert sum(outcomes.values()) == CASES >= 1000
    assert min(outcomes.values()) > 50  # both outcomes are exercised


def encoded(fmt):
    rng = np.random.default_rng(0)
    pixels = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def test_mutated_image_bytes_are_decoded_or_named(tmp_path):
    """Through the pipeline's ``CheckedLoadImageFromFile``, as training reads them."""
    load, path = CheckedLoadImageFromFile(), str(tmp_path / 'fuzz.img')
    rng = np.random.default_rng(7)
    originals = {'JPEG': encoded('JPEG'), 'PNG': encoded('PNG')}
    tried, outcomes = {}, {'decoded': 0, 'named error': 0}
    for case in range(CASES):
        fmt = str(rng.choice(sorted(originals)))
        data = bytearray(originals[fmt])
        kind = str(rng.choice(['truncate', 'bit flips', 'garbage', 'cut head']))
        if kind == 'truncate':
            data = data[:rng.integers(0, len(data))]
        elif kind == 'bit flips':
            for _ in range(rng.integers(1, 20)):
                data[rng.integers(len(data))] ^= 1 << int(rng.integers(8))
        elif kind == 'garbage':
            data = bytearray(rng.integers(0, 256, rng.integers(0, 2000), dtype=np.uint8))
        else:
            data = data[rng.integers(1, len(data)):]
        tried[f'{fmt} {kind}'] = tried.get(f'{fmt} {kind}', 0) + 1
        with open(path, 'wb') as f:
            f.write(data)
        try:
            image = load(dict(img_path=path))['img']
        except BadImageError as error:
            assert str(error).startswith(f'{path}: '), error
            outcomes['named error'] += 1
            continue
        except Exception as error:  # anything else is a bug
            pytest.fail(f'case {case} ({fmt} {kind}): {type(error).__name__}: {error}')
        assert image.ndim == 3
        outcomes['decoded'] += 1
    print(f'\nimage fuzzing: {CASES} images, mutations {tried}, outcomes {outcomes}')
    assert sum(outcomes.values()) == CASES >= 1000
    assert outcomes['named error'] > 500 and outcomes['decoded'] > 10
