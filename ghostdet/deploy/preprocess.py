"""Detector preprocessing outside PyTorch, in one place: one BGR image
resized, normalised and padded as the config's test pipeline and data
preprocessor do (the policy is the ``preprocess`` entry of the exported
model's metadata), and the feed of the exported graph
(:mod:`ghostdet.deploy.detector_graphs`) made from it."""
from typing import Dict, Sequence, Union

import numpy as np
import torch


def preprocess_image(image: np.ndarray, policy: dict) -> dict:
    """Resize (keep ratio, bilinear), convert to RGB if the config does,
    normalise and pad one BGR ``uint8`` image as the config's test pipeline
    and data preprocessor do.

    Args:
        image (ndarray): ``(H, W, 3)`` BGR ``uint8``.
        policy (dict): ``preprocess`` of the model's metadata.

    Returns:
        dict: ``image`` (1, 3, H', W') float32, ``img_shape``, ``ori_shape``
        and ``scale_factor``.
    """
    import mmcv
    resized, (w_scale, h_scale) = _rescale(image, policy['scale'])
    if policy['bgr_to_rgb']:
        resized = resized[..., ::-1]
    normalised = (resized.astype(np.float32) - np.array(policy['mean'], np.float32)) / \
        np.array(policy['std'], np.float32)
    divisor = max(policy['pad_size_divisor'], 1)
    height, width = normalised.shape[:2]
    padded = mmcv.impad(normalised, shape=(-(-height // divisor) * divisor,
                                           -(-width // divisor) * divisor),
                        pad_val=policy['pad_value'])
    return dict(image=padded.transpose(2, 0, 1)[None].copy(), img_shape=(height, width),
                ori_shape=image.shape[:2], scale_factor=(w_scale, h_scale))


def _rescale(image, scale):
    """mmcv's keep-ratio ``imrescale`` with the scale factor MMDetection's
    ``Resize`` records: ``(new_w / w, new_h / h)``."""
    import mmcv
    height, width = image.shape[:2]
    resized = mmcv.imrescale(image, tuple(scale), interpolation='bilinear', backend='cv2')
    new_height, new_width = resized.shape[:2]
    return resized, (new_width / width, new_height / height)


def graph_feed(image: Union[np.ndarray, torch.Tensor], img_shape: Sequence[int],
               scale_factor: Sequence[float]) -> Dict[str, np.ndarray]:
    """The exported graph's inputs for one preprocessed image.

    Args:
        image (ndarray or Tensor): ``(1, 3, H, W)`` float32, normalised and
            padded.
        img_shape (Sequence[int]): ``(h, w)`` of the resized image before
            padding.
        scale_factor (Sequence[float]): MMDetection's ``(w_scale, h_scale)``
            of the resize.

    Returns:
        dict: ``image``, ``img_shape`` and ``scale_factor`` (the reciprocals,
        which the graph multiplies boxes by), float32 arrays.
    """
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    return dict(image=np.ascontiguousarray(image, dtype=np.float32),
                img_shape=np.array(img_shape, dtype=np.float32),
                # Reciprocals in double precision, as MMDetection computes them.
                scale_factor=np.array([1 / s for s in scale_factor], dtype=np.float32))


def image_feed(image: np.ndarray, policy: dict) -> Dict[str, np.ndarray]:
    """The exported graph's inputs for one BGR ``uint8`` image:
    :func:`preprocess_image`, then :func:`graph_feed`."""
    data = preprocess_image(image, policy)
    return graph_feed(data['image'], data['img_shape'], data['scale_factor'])
