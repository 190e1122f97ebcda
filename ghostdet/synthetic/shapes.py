"""A small, deterministic COCO-format detection dataset of drawn shapes.

Six classes that differ only in shape (every object gets a random colour),
on textured backgrounds, with sizes from about 10 px to 60% of the shorter
image side and partial occlusion. It is meant for smoke tests and quick
training runs that must show a detector actually learns, so it is not easy:
small stars, hexagons and circles look alike, and colours are no hint.
"""
import json
import math
import os

import numpy as np
from PIL import Image, ImageDraw

from ..checkpoint.files import write_atomically
from ..errors import InputError, OutputExistsError

CLASSES = ('circle', 'square', 'triangle', 'star', 'cross', 'hexagon')

GENERATOR = 'ghostdet.synthetic.shapes'
# Names the generator had in earlier versions: their datasets are regenerated too.
_EARLIER_GENERATORS = ('ghostdet.datasets.synthetic', )
FORMAT_VERSION = 1
MARKER_FILE = '.ghostdet_synthetic.json'

_SPLIT_CODES = {'train': 0, 'val': 1}
_MIN_OBJECT = 10.0  # smallest object extent in pixels
_MAX_OBJECT_FRAC = 0.6  # largest extent, relative to the shorter image side
_MIN_VISIBLE = 0.5  # an object must keep this share of its pixels visible
_SUPERSAMPLE = 4  # per-axis supersampling of object masks (anti-aliasing)
_PLACE_TRIES = 20


def make_coco_dataset(out_dir: str,
                      *,
                      num_train: int = 800,
                      num_val: int = 200,
                      seed: int = 0,
                      min_size: int = 256,
                      max_size: int = 384,
                      max_objects: int = 6,
                      overwrite: bool = False) -> dict:
    """Write a synthetic COCO-format detection dataset of shapes.

    Layout::

        out_dir/annotations/instances_train.json
        out_dir/annotations/instances_val.json
        out_dir/train/000001.jpg ...
        out_dir/val/000001.jpg ...

    Each image is drawn from its own generator seeded by ``(seed, split,
    index)``, so the output is a pure function of the arguments (byte-identical
    JSON, identical pixels) and the splits never share an image. Files are
    written atomically, not fsynced (a dataset is cheap to make again; an
    fsync per image would add seconds). An existing dataset made by this
    function is regenerated in place; files it does not write are never
    deleted.

    Args:
        out_dir (str): Output directory, created if missing.
        num_train (int): Number of training images. Default: 800.
        num_val (int): Number of validation images. Default: 200.
        seed (int): Non-negative seed. Default: 0.
        min_size (int): Smallest image width/height. Default: 256.
        max_size (int): Largest image width/height. Default: 384.
        max_objects (int): Most objects in an image (at least 1 each).
            Default: 6.
        overwrite (bool): Write into a non-empty directory that was not made
            by this function. Default: False.

    Returns:
        dict: ``out_dir``, ``classes``, and per split ``{split}_ann_file``,
        ``{split}_img_dir``, ``num_{split}_images`` and
        ``num_{split}_annotations``.

    Raises:
        OutputExistsError: ``out_dir`` is non-empty, does not hold a dataset
            made by this function and ``overwrite`` is False.
        InputError: An argument is out of range (a ``ValueError``).
    """
    _check_args(num_train, num_val, seed, min_size, max_size, max_objects)
    args = dict(num_train=int(num_train), num_val=int(num_val), seed=int(seed),
                min_size=int(min_size), max_size=int(max_size),
                max_objects=int(max_objects))
    out_dir = os.fspath(out_dir)
    if not overwrite and not _is_writable_target(out_dir):
        raise OutputExistsError(
            f'{out_dir!r} is not empty and does not hold a dataset made by '
            f'{GENERATOR}; pass overwrite=True (--overwrite on the command '
            f'line) to write into it anyway, or pick another directory.')

    ann_dir = os.path.join(out_dir, 'annotations')
    os.makedirs(ann_dir, exist_ok=True)
    # The marker claims the directory before any image is written, so an
    # interrupted run can be repeated without overwrite=True.
    _write_json(os.path.join(out_dir, MARKER_FILE), _info(args, None))

    result = dict(out_dir=out_dir, classes=CLASSES)
    for split, num in (('train', num_train), ('val', num_val)):
        img_dir = os.path.join(out_dir, split)
        os.makedirs(img_dir, exist_ok=True)
        coco = _make_split(split, num, img_dir, args)
        ann_file = os.path.join(ann_dir, f'instances_{split}.json')
        _write_json(ann_file, coco)
        result[f'{split}_ann_file'] = ann_file
        result[f'{split}_img_dir'] = img_dir
        result[f'num_{split}_images'] = len(coco['images'])
        result[f'num_{split}_annotations'] = len(coco['annotations'])
    return result


def _check_args(num_train, num_val, seed, min_size, max_size, max_objects):
    for name, value in (('num_train', num_train), ('num_val', num_val),
                        ('seed', seed)):
        if not isinstance(value, (int, np.integer)) or value < 0:
            raise InputError(f'{name} must be a non-negative int, got {value!r}')
    if not 32 <= min_size <= max_size:
        raise InputError('need 32 <= min_size <= max_size, got '
                         f'min_size={min_size}, max_size={max_size}')
    if max_objects < 1:
        raise InputError(f'max_objects must be >= 1, got {max_objects}')


def _info(args, split):
    return dict(description='ghostdet synthetic shapes', generator=GENERATOR,
                format_version=FORMAT_VERSION, split=split, seed=args['seed'],
                args=args)


def _is_writable_target(out_dir):
    """True if ``out_dir`` is missing, empty or holds a dataset of ours."""
    if not os.path.isdir(out_dir) or not os.listdir(out_dir):
        return True
    candidates = [os.path.join(out_dir, MARKER_FILE)] + [
        os.path.join(out_dir, 'annotations', f'instances_{split}.json')
        for split in _SPLIT_CODES
    ]
    for path in candidates:
        try:
            with open(path, encoding='utf-8') as f:
                data = json.load(f)
        except (OSError, ValueError):
            continue
        info = data.get('info', data) if isinstance(data, dict) else None
        if isinstance(info, dict) and info.get('generator') in (GENERATOR, *_EARLIER_GENERATORS):
            return True
    return False


def _write_json(path, obj):
    text = json.dumps(obj, sort_keys=True, separators=(',', ':'))
    write_atomically(path, lambda f: f.write(text.encode()), durable=False)


def _make_split(split, num, img_dir, args):
    images, annotations = [], []
    for index in range(num):
        image_id = index + 1
        rng = np.random.default_rng([args['seed'], _SPLIT_CODES[split], index])
        pixels, objects, quality = _draw_image(rng, args)
        file_name = f'{image_id:06d}.jpg'
        write_atomically(os.path.join(img_dir, file_name), lambda f: Image.fromarray(
            pixels).save(f, format='JPEG', quality=quality), durable=False)
        height, width = pixels.shape[:2]
        images.append(dict(id=image_id, file_name=file_name, width=width,
                           height=height))
        for label, points in objects:
            annotations.append(_annotation(len(annotations) + 1, image_id,
                                           label, points, width, height))
    categories = [dict(id=i + 1, name=name, supercategory='shape')
                  for i, name in enumerate(CLASSES)]
    return dict(info=_info(args, split), licenses=[], images=images,
                annotations=annotations, categories=categories)


def _annotation(ann_id, image_id, label, points, width, height):
    xs = np.clip(points[:, 0], 0, width)
    ys = np.clip(points[:, 1], 0, height)
    x0, y0 = float(xs.min()), float(ys.min())
    w, h = float(xs.max()) - x0, float(ys.max()) - y0
    # Shoelace formula: the shape's own area, occluded parts included.
    area = 0.5 * abs(float(np.dot(xs, np.roll(ys, 1)) -
                           np.dot(ys, np.roll(xs, 1))))
    polygon = [round(float(v), 2) for v in np.stack([xs, ys], 1).ravel()]
    return dict(id=ann_id, image_id=image_id, category_id=label + 1,
                bbox=[round(x0, 2), round(y0, 2), round(w, 2), round(h, 2)],
                area=round(area, 2), iscrowd=0, segmentation=[polygon])


def _draw_image(rng, args):
    """Draw one image; returns (uint8 HxWx3, [(label, Nx2 points)], quality)."""
    width = int(rng.integers(args['min_size'], args['max_size'] + 1))
    height = int(rng.integers(args['min_size'], args['max_size'] + 1))
    canvas = _background(rng, height, width)
    owner = np.full((height, width), -1, dtype=np.int16)
    full_px, visible_px, objects = [], [], []
    max_extent = _MAX_OBJECT_FRAC * min(width, height)
    for _ in range(int(rng.integers(1, args['max_objects'] + 1))):
        label = int(rng.integers(len(CLASSES)))
        # Log-uniform extent: as many 10-20 px objects as 100-200 px ones.
        extent = math.exp(rng.uniform(math.log(_MIN_OBJECT),
                                      math.log(max_extent)))
        shape = _shape_points(rng, label) * (extent / 2)
        placed = _place(rng, shape, width, height, owner, full_px, visible_px)
        if placed is None:
            continue
        points, x0, y0, alpha, own = placed
        _paint(rng, canvas, x0, y0, alpha, own)
        region = owner[y0:y0 + alpha.shape[0], x0:x0 + alpha.shape[1]]
        region[own] = len(objects)
        full_px.append(int(own.sum()))
        visible_px.append(full_px[-1])
        objects.append((label, points))
    sigma = rng.uniform(0, 8)
    canvas += sigma * rng.standard_normal(canvas.shape, dtype=np.float32)
    pixels = np.clip(canvas + 0.5, 0, 255).astype(np.uint8)
    return pixels, objects, int(rng.integers(80, 96))


def _shape_points(rng, label):
    """Outline of class ``label`` with circumradius about 1, centred at 0."""
    name = CLASSES[label]
    theta = rng.uniform(0, 2 * math.pi)
    if name == 'circle':
        angles = np.linspace(0, 2 * math.pi, 48, endpoint=False)
        radii = np.ones(48)
    elif name in ('square', 'triangle', 'hexagon'):
        n = dict(square=4, triangle=3, hexagon=6)[name]
        angles = theta + np.arange(n) * (2 * math.pi / n)
        radii = np.ones(n)
    elif name == 'star':
        angles = theta + np.arange(10) * (math.pi / 5)
        radii = np.tile([1.0, rng.uniform(0.38, 0.5)], 5)
    else:  # cross: a plus sign made of two bars of half-width w
        w = rng.uniform(0.2, 0.3)
        corners = np.array([[w, 1], [w, w], [1, w], [1, -w], [w, -w], [w, -1],
                            [-w, -1], [-w, -w], [-1, -w], [-1, w], [-w, w],
                            [-w, 1]])
        c, s = math.cos(theta), math.sin(theta)
        return corners @ np.array([[c, s], [-s, c]])
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1)


def _place(rng, shape, width, height, owner, full_px, visible_px):
    """Find a position that hides no earlier object too much.

    Returns ``(points, x0, y0, alpha, own)`` with the outline in image
    coordinates, the crop origin, the anti-aliased coverage of the crop and
    the pixels the new object takes over; None if every try failed.
    """
    lo, hi = shape.min(0), shape.max(0)
    for _ in range(_PLACE_TRIES):
        centre = rng.uniform(-lo, [width, height] - hi)
        points = np.clip(np.round(shape + centre, 2), 0, [width, height])
        x0, y0 = np.floor(points.min(0)).astype(int)
        x1, y1 = np.ceil(points.max(0)).astype(int)
        alpha = _coverage(points - [x0, y0], x1 - x0, y1 - y0)
        own = alpha >= 0.5
        if not own.any():
            continue
        covered = owner[y0:y1, x0:x1][own]
        hidden = np.bincount(covered[covered >= 0], minlength=len(full_px))
        if all(v - h >= _MIN_VISIBLE * f
               for v, h, f in zip(visible_px, hidden, full_px)):
            for k, h in enumerate(hidden):
                visible_px[k] -= int(h)
            return points, x0, y0, alpha, own
    return None


def _coverage(points, w, h):
    """Fraction of each pixel of a ``h x w`` crop covered by the polygon.

    Pixel ``(i, j)`` spans ``[j, j+1] x [i, i+1]``. PIL fills polygon edges
    inclusively; unshifted, its mask is centred on the polygon (measured bias
    under 0.01 px) and about half a subpixel (1/8 px) wider on each side.
    """
    k = _SUPERSAMPLE
    mask = Image.new('L', (w * k, h * k))
    ImageDraw.Draw(mask).polygon(
        [(x * k, y * k) for x, y in points.tolist()], fill=1)
    cover = np.asarray(mask, dtype=np.float32).reshape(h, k, w, k)
    return cover.mean((1, 3))


def _paint(rng, canvas, x0, y0, alpha, own):
    """Blend an object of random colour (solid or shaded) into the canvas."""
    h, w = alpha.shape
    region = canvas[y0:y0 + h, x0:x0 + w]
    under = region[own]
    best, best_score = None, -1.0
    # Resample colours that would vanish into the pixels underneath, so
    # every labelled object can be seen.
    for _ in range(8):
        colour = rng.uniform(0, 256, 3).astype(np.float32)
        score = np.mean(np.linalg.norm(under - colour, axis=1) > 60)
        if score > best_score:
            best, best_score = colour, score
        if score >= 0.9:
            break
    fill = np.broadcast_to(best, (h, w, 3))
    if rng.random() < 0.5:  # shade along a random direction
        angle = rng.uniform(0, 2 * math.pi)
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        t = (xs * math.cos(angle) + ys * math.sin(angle)) / max(h, w, 1)
        delta = rng.uniform(-50, 50, 3).astype(np.float32)
        fill = fill + t[..., None] * delta
    a = alpha[..., None]
    region[...] = region * (1 - a) + fill * a


def _background(rng, height, width):
    """A float32 HxWx3 texture: one or two of gradient/stripes/checkers/noise."""
    kinds = (_gradient, _stripes, _checkers, _noise)
    first = kinds[int(rng.integers(len(kinds)))](rng, height, width)
    if rng.random() < 0.5:
        second = kinds[int(rng.integers(len(kinds)))](rng, height, width)
        mix = rng.uniform(0.2, 0.6)
        first = (1 - mix) * first + mix * second
    return first.astype(np.float32)


def _two_colours(rng, mask):
    c0, c1 = rng.uniform(0, 256, (2, 3)).astype(np.float32)
    return c0 + mask[..., None].astype(np.float32) * (c1 - c0)


def _direction(rng, height, width):
    angle = rng.uniform(0, 2 * math.pi)
    ys = np.arange(height, dtype=np.float32)[:, None]
    xs = np.arange(width, dtype=np.float32)[None, :]
    return xs * math.cos(angle) + ys * math.sin(angle), angle


def _gradient(rng, height, width):
    t, _ = _direction(rng, height, width)
    return _two_colours(rng, (t - t.min()) / max(float(np.ptp(t)), 1.0))


def _stripes(rng, height, width):
    t, _ = _direction(rng, height, width)
    wave = np.sin(t * (2 * math.pi / rng.uniform(6, 60)) +
                  rng.uniform(0, 2 * math.pi))
    mask = wave > 0 if rng.random() < 0.5 else (wave + 1) / 2
    return _two_colours(rng, mask)


def _checkers(rng, height, width):
    u, angle = _direction(rng, height, width)
    ys = np.arange(height, dtype=np.float32)[:, None]
    xs = np.arange(width, dtype=np.float32)[None, :]
    v = ys * math.cos(angle) - xs * math.sin(angle)
    cell = rng.uniform(8, 64)
    return _two_colours(rng, (np.floor(u / cell) + np.floor(v / cell)) % 2)


def _noise(rng, height, width):
    """Smooth colour noise: random low-resolution pixels, upsampled."""
    step = rng.uniform(8, 64)
    small = rng.integers(0, 256, (max(2, int(height / step)),
                                  max(2, int(width / step)), 3), dtype=np.uint8)
    big = Image.fromarray(small).resize((width, height), Image.BICUBIC)
    return np.asarray(big, dtype=np.float32)


def make_annotation_file(path: str,
                         *,
                         num_images: int = 118287,
                         num_annotations: int = 860001,
                         seed: int = 0) -> dict:
    """Write only a COCO-format annotation file of a given size (no images):
    by default that of COCO train2017, for timing the annotation check.

    Images are 640x480 or 480x640 and get annotations of random
    categories (80) and boxes inside them, with ``area`` and ``iscrowd``.

    Returns:
        dict: ``ann_file``, ``num_images`` and ``num_annotations``.
    """
    rng = np.random.default_rng(seed)
    portrait = rng.random(num_images) < 0.25
    widths = np.where(portrait, 480, 640)
    heights = np.where(portrait, 640, 480)
    images = [dict(id=i + 1, file_name=f'{i + 1:012d}.jpg', width=int(w), height=int(h))
              for i, (w, h) in enumerate(zip(widths, heights))]
    owners = rng.integers(0, num_images, num_annotations)
    w = rng.uniform(2, 200, num_annotations).round(2)
    h = rng.uniform(2, 200, num_annotations).round(2)
    x = (rng.random(num_annotations) * (widths[owners] - w)).round(2)
    y = (rng.random(num_annotations) * (heights[owners] - h)).round(2)
    categories = rng.integers(1, 81, num_annotations)
    annotations = [
        dict(id=i + 1, image_id=int(owners[i]) + 1, category_id=int(categories[i]),
             bbox=[float(x[i]), float(y[i]), float(w[i]), float(h[i])],
             area=float(round(w[i] * h[i], 2)), iscrowd=0)
        for i in range(num_annotations)]
    coco = dict(images=images, annotations=annotations,
                categories=[dict(id=i, name=f'class_{i}') for i in range(1, 81)])
    _write_json(os.fspath(path), coco)
    return dict(ann_file=os.fspath(path), num_images=num_images,
                num_annotations=num_annotations)
