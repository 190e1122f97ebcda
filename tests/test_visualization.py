"""Pictures a person can read: labels never overlap, boxes stay in the picture."""
import itertools

import numpy as np
import pytest

from ghostdet.visualization import _overlaps, draw_boxes, place_labels


@pytest.mark.parametrize('seed', range(5))
def test_labels_never_overlap_even_on_stacked_boxes(seed):
    rng = np.random.default_rng(seed)
    # Many boxes on nearly the same object, as a detector's duplicates are.
    base = rng.uniform(20, 120, 2)
    boxes = [tuple(np.r_[base, base + 60] + rng.uniform(-3, 3, 4)) for _ in range(12)]
    boxes += [tuple(np.r_[xy, xy + rng.uniform(5, 80, 2)]) for xy in rng.uniform(0, 180, (8, 2))]
    sizes = [(int(w), 14) for w in rng.integers(40, 90, len(boxes))]
    labels = place_labels(boxes, sizes, (256, 200))
    assert len(labels) == len(boxes)
    for a, b in itertools.combinations(labels, 2):
        assert not _overlaps(a, b), (a, b)
    for (x1, y1, x2, y2), (w, h) in zip(labels, sizes):
        assert 0 <= x1 and x2 <= 256 and 0 <= y1 and y2 <= 200
        assert (x2 - x1, y2 - y1) == (w, h)


def test_draw_boxes_clips_and_titles():
    image = np.zeros((50, 60, 3), np.uint8)
    drawn = draw_boxes(image, np.array([[-10, -10, 100, 100], [5, 5, 20, 20]]),
                       ['square 0.91', 'circle 0.40'], [1, 0], title='predictions >= 0.30')
    assert drawn.shape == (50 + 18, 60, 3)  # the title row on top
    assert image.max() == 0  # the input is not drawn on
    assert drawn[18:].max() > 0
