"""A small, deterministic image-classification dataset in ImageNet's folder layout.

Each class is a stripe orientation, evenly spaced from 0 (vertical stripes)
to 90 degrees and drawn mirrored half of the time, so horizontal flips keep
the class. Colours, stripe period, phase and noise are random for every
image: only the orientation tells the classes apart. It is meant for smoke
tests of classification pretraining (MMPretrain's ``ImageNet``).
"""
import os

import numpy as np
from PIL import Image

from ..errors import InputError, OutputExistsError

_SPLIT_CODES = {'train': 0, 'val': 1}
_MAX_CLASSES = 16  # orientations 6 degrees apart still tell apart at 64 px


def make_image_folder_dataset(out_dir: str,
                              *,
                              num_classes: int = 3,
                              images_per_class: int = 4,
                              size: int = 64,
                              seed: int = 0) -> dict:
    """Write a tiny classification dataset as class subfolders.

    Layout (the one MMPretrain's ``ImageNet`` reads without annotation
    files, with ``data_root=out_dir`` and ``split='train'`` or ``'val'``)::

        out_dir/train/stripes_000/000000.jpg ...
        out_dir/train/stripes_045/...
        out_dir/train/stripes_090/...
        out_dir/val/stripes_000/...

    Class folders sort in label order. Every image is drawn from its own
    generator seeded by ``(seed, split, class, index)``, so the files are a
    pure function of the arguments and the splits never share an image.

    Args:
        out_dir (str): Output directory, created if missing.
        num_classes (int): Number of classes, 1 to 16. Default: 3.
        images_per_class (int): Images per class in each split. Default: 4.
        size (int): Width and height of the images, at least 16. Default: 64.
        seed (int): Non-negative seed. Default: 0.

    Returns:
        dict: ``out_dir``, ``classes`` (folder names in label order),
        ``train_dir``, ``val_dir``, ``num_train_images`` and
        ``num_val_images``.

    Raises:
        InputError: An argument is out of range (a ``ValueError``).
        OutputExistsError: A split folder already holds class folders other
            than these (MMPretrain would count them as extra classes).
    """
    for name, value, low in (('num_classes', num_classes, 1),
                             ('images_per_class', images_per_class, 1),
                             ('size', size, 16), ('seed', seed, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise InputError(f'{name} must be an int >= {low}, got {value!r}')
    if num_classes > _MAX_CLASSES:
        raise InputError(f'num_classes must be at most {_MAX_CLASSES}, got {num_classes}')

    out_dir = os.fspath(out_dir)
    spacing = 90.0 / max(num_classes - 1, 1)
    angles = [spacing * k for k in range(num_classes)]
    classes = tuple(f'stripes_{round(angle):03d}' for angle in angles)
    result = dict(out_dir=out_dir, classes=classes)
    for split, split_code in _SPLIT_CODES.items():
        split_dir = os.path.join(out_dir, split)
        if os.path.isdir(split_dir):
            extra = sorted(set(os.listdir(split_dir)) - set(classes))
            if extra:
                raise OutputExistsError(
                    f'{split_dir!r} already holds {extra}, which would be read as '
                    f'extra classes; pick an empty directory.')
        for label, (name, angle) in enumerate(zip(classes, angles)):
            class_dir = os.path.join(split_dir, name)
            os.makedirs(class_dir, exist_ok=True)
            for index in range(images_per_class):
                rng = np.random.default_rng([seed, split_code, label, index])
                pixels = _draw_stripes(rng, size, angle, spacing)
                Image.fromarray(pixels).save(
                    os.path.join(class_dir, f'{index:06d}.jpg'), quality=95)
        result[f'{split}_dir'] = split_dir
        result[f'num_{split}_images'] = num_classes * images_per_class
    return result


def _draw_stripes(rng, size, angle, spacing):
    """Two-colour stripes at ``angle`` or its mirror image, jittered by less
    than a sixth of the spacing between classes, with random period, phase,
    colours and noise."""
    angle = angle + rng.uniform(-spacing / 6, spacing / 6)
    theta = np.deg2rad(angle if rng.random() < 0.5 else 180.0 - angle)
    period = rng.uniform(size / 8, size / 4)
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    wave = np.sin(2 * np.pi * (x * np.cos(theta) + y * np.sin(theta)) / period +
                  rng.uniform(0, 2 * np.pi))
    mix = (0.5 + 0.5 * wave)[..., None]
    # One dark and one light colour, so the stripes never fade out.
    colour_a, colour_b = rng.permutation([rng.uniform(0, 110, 3), rng.uniform(145, 255, 3)])
    pixels = mix * colour_a + (1 - mix) * colour_b + rng.normal(0, 8, size=(size, size, 3))
    return np.clip(pixels, 0, 255).astype(np.uint8)
