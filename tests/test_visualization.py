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
    import cv2
    image = np.zeros((100, 160, 3), np.uint8)
    texts = ['square 0.91', 'circle 0.40']
    drawn = draw_boxes(image, np.array([[-10, -10, 200, 150], [60, 50, 100, 80]]), texts,
                       [1, 0], title='predictions >= 0.30')
    assert drawn.shape == (100 + 18, 160, 3)  # the title row on top
    assert image.max() == 0  # the input is not drawn on
    title, picture = drawn[:18].astype(int), drawn[18:].astype(int)
    green, red = (60, 180, 75), (230, 25, 75)  # the colours of classes 1 and 0

    # The title: the whole text, dark on a white band, from x = 4, above the picture.
    assert (title == title[..., :1]).all()  # grey only: no box colour reaches the band
    assert (title == 255).all(2).mean() > 0.8
    columns = np.flatnonzero((title[..., 0] < 128).any(0))
    (text_width, _), _ = cv2.getTextSize('predictions >= 0.30', cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
    assert 4 <= columns[0] <= 6 and abs(columns[-1] + 1 - (4 + text_width)) <= 2

    # Where the labels go: each is a filled box of its class colour with white
    # text; the first is placed above its clipped box, so at the image's top edge.
    sizes = []
    for text in texts:
        (w, h), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
        sizes.append((w + 4, h + baseline + 4))
    spots = place_labels([(0, 0, 159, 99), (60, 50, 100, 80)], sizes, (160, 100))
    assert spots[0][:2] == (0, 0)
    in_label = np.zeros((100, 160), bool)
    for (x1, y1, x2, y2), colour in zip(spots, (green, red)):
        inside = picture[y1:y2 + 1, x1:x2 + 1].reshape(-1, 3)
        assert (inside == colour).all(1).mean() > 0.5  # filled with the class colour
        assert (inside.min(1) > 200).any()  # white text on it
        in_label[y1:y2 + 1, x1:x2 + 1] = True

    # The box at [-10, -10, 200, 150] is clipped to the image: its outline runs
    # along all four edges of the picture, inside it; the other box is where it was.
    ys, xs = np.mgrid[:100, :160]

    def outline(x1, y1, x2, y2, spread):
        near_x = (np.abs(xs - x1) <= spread) | (np.abs(xs - x2) <= spread)
        near_y = (np.abs(ys - y1) <= spread) | (np.abs(ys - y2) <= spread)
        within_x = (xs >= x1 - spread) & (xs <= x2 + spread)
        within_y = (ys >= y1 - spread) & (ys <= y2 + spread)
        return (near_x & within_y) | (near_y & within_x)

    edges = outline(0, 0, 159, 99, 0)
    assert (edges & ~in_label)[[0, -1]].any(1).all() and (edges & ~in_label)[:, [0, -1]].any(
        0).all()  # some of every edge is outline, not label
    for box, colour in (((0, 0, 159, 99), green), ((60, 50, 100, 80), red)):
        line = outline(*box, spread=0) & ~in_label
        assert line.sum() > 60, box
        assert (picture[line] == colour).all(), box
    # Nothing else is drawn: every pixel off the outlines (2 px wide) and the labels is 0.
    drawn_on = outline(0, 0, 159, 99, 1) | outline(60, 50, 100, 80, 1) | in_label
    assert (picture[~drawn_on] == 0).all()
    assert (~drawn_on).mean() > 0.6  # most of the picture
