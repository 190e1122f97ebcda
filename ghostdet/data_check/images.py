"""Images that cannot be read: found before a run, and named during one.

cv2 decodes a truncated JPEG without complaint into a partly grey image, and
mmcv's ``LoadImageFromFile`` fails on undecodable bytes with an ``assert``
outside its error handling, which kills the run. :func:`image_problem` tells
a missing, empty, undecodable or truncated image from a good one; the
transform :class:`CheckedLoadImageFromFile` (mmcv's ``LoadImageFromFile``
that a pipeline names instead) raises :class:`BadImageError` naming the file,
which the training loop turns into a skipped, logged and counted sample
(:mod:`ghostdet.engine.samples`) and which stops any other run with the file's
name.
"""
from typing import Optional

import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmdet.registry import TRANSFORMS
from mmengine import fileio

from ..errors import BadImageError

_JPEG_START, _JPEG_END = b'\xff\xd8', b'\xff\xd9'
_PNG_START, _PNG_END = b'\x89PNG\r\n\x1a\n', b'IEND\xaeB`\x82'
# A JPEG's end-of-image marker may be followed by a little padding.
_JPEG_TAIL = 1024


def byte_problem(data: bytes) -> Optional[str]:
    """Why these bytes are not a whole image, or None if they may be one.

    Only formats that mark their end are checked for truncation (JPEG and
    PNG, the ones COCO-style datasets use); others are left to the decoder.
    """
    if not data:
        return 'the file is empty'
    if data.startswith(_JPEG_START) and _JPEG_END not in data[-_JPEG_TAIL:]:
        return 'the JPEG is truncated (no end-of-image marker)'
    if data.startswith(_PNG_START) and not data.rstrip(b'\0').endswith(_PNG_END):
        return 'the PNG is truncated (no IEND chunk)'
    return None


def decode_image(data: bytes, path: str, **decode_args) -> np.ndarray:
    """Decode image bytes as mmcv does, or raise :class:`BadImageError`."""
    problem = byte_problem(data)
    if problem is None:
        try:
            image = mmcv.imfrombytes(data, **decode_args)
        except Exception as error:  # each decoder backend fails in its own way
            image, problem = None, f'it cannot be decoded ({type(error).__name__}: {error})'
        if image is None and problem is None:
            problem = 'it cannot be decoded as an image'
    if problem is not None:
        raise BadImageError(path, problem)
    return image


def image_problem(path: str, *, backend_args: Optional[dict] = None) -> Optional[str]:
    """Why the image at ``path`` cannot be used, or None if it decodes whole."""
    try:
        data = fileio.get(path, backend_args=backend_args)
    except (OSError, ValueError) as error:
        return f'it cannot be read ({error})'
    try:
        decode_image(data, path)
    except BadImageError as error:
        return error.reason
    return None


@TRANSFORMS.register_module()
class CheckedLoadImageFromFile(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` that raises :class:`BadImageError` naming
    a missing, empty, undecodable or truncated file, instead of decoding a
    truncated one silently or failing an ``assert``. Same arguments;
    ``ignore_empty`` still returns None for a missing or empty file. A
    pipeline switches it on with ``dict(type='CheckedLoadImageFromFile')``.
    """

    def transform(self, results: dict) -> Optional[dict]:
        path = results['img_path']
        try:
            loaded = super().transform(results)
        except Exception as error:  # mmcv raises or asserts, per backend and fault
            raise BadImageError(path, image_problem(path, backend_args=self.backend_args) or
                                f'it cannot be loaded ({type(error).__name__}: {error})') from None
        if loaded is not None:
            # mmcv has decoded it: only a truncation can be left. The second
            # read comes from the page cache.
            problem = byte_problem(fileio.get(path, backend_args=self.backend_args))
            if problem is not None:
                raise BadImageError(path, problem)
        return loaded
