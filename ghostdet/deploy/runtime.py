"""Run an exported detector with ONNX Runtime.

:class:`OnnxDetector` is the runtime for users: images in (paths or BGR
arrays), MMDetection ``DetDataSample`` results out; it resizes, normalises
and pads as the config's test pipeline does, from the model's own metadata.
:mod:`ghostdet.deploy.mmengine_model` wraps it as an MMDetection model for
``tools/test.py CONFIG model.onnx``.
"""
import os
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.structures import InstanceData

from ..errors import DeployError
from .metadata import read_metadata
from .preprocess import graph_feed, preprocess_image


def session_options(threads: Optional[int] = None):
    """ONNX Runtime session options: ``threads`` intra-op threads (None: as
    many as PyTorch uses, ``torch.get_num_threads()``, which is every core
    unless ``OMP_NUM_THREADS`` or ``torch.set_num_threads`` says fewer), one
    inter-op thread, all graph optimisations."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = int(threads or torch.get_num_threads())
    return options


class OnnxDetector:
    """An exported RetinaNet or Faster R-CNN on ONNX Runtime's CPU provider.

    Args:
        onnx_file (str): ``model.onnx`` (or ``model_int8.onnx``) written by
            ``tools/deploy.py``.
        threads (int, optional): Intra-op threads; default as many as PyTorch uses.

    Example:
        >>> detector = OnnxDetector('work_dirs/deploy/model.onnx')
        >>> result = detector(['demo.jpg'])[0]
        >>> result.pred_instances.bboxes, result.pred_instances.labels
    """

    def __init__(self, onnx_file: str, *, threads: Optional[int] = None):
        import onnxruntime as ort
        self.onnx_file = onnx_file
        self.metadata = read_metadata(onnx_file)
        self.classes = tuple(self.metadata['classes'])
        self.session = ort.InferenceSession(onnx_file, session_options(threads),
                                            providers=['CPUExecutionProvider'])

    def run(self, image: Union[np.ndarray, torch.Tensor], img_shape: Sequence[int],
            scale_factor: Sequence[float]) -> Tuple[np.ndarray, ...]:
        """Run the graph on one preprocessed image.

        Args:
            image (ndarray or Tensor): ``(1, 3, H, W)`` float32, normalised
                and padded.
            img_shape (tuple[int]): ``(h, w)`` of the resized image before
                padding.
            scale_factor (tuple[float]): MMDetection's ``(w_scale,
                h_scale)`` of the resize.

        Returns:
            tuple[ndarray]: ``boxes`` (N, 4) in the original image,
            ``scores`` (N, ), ``labels`` (N, ), best first.
        """
        return tuple(self.session.run(None, graph_feed(image, img_shape, scale_factor)))

    def preprocess(self, image: np.ndarray) -> dict:
        """:func:`preprocess_image` with this model's policy."""
        return preprocess_image(image, self.metadata['preprocess'])

    def __call__(self, images: Sequence[Union[str, np.ndarray]]) -> list:
        """Detect objects in images.

        Args:
            images (list[str or ndarray]): Image paths or BGR ``uint8``
                arrays (as ``mmcv.imread`` gives).

        Returns:
            list[DetDataSample]: One per image, with ``pred_instances``
            (``bboxes``, ``scores``, ``labels``) in image pixels.
        """
        import mmcv
        from mmdet.structures import DetDataSample
        results = []
        for image in images:
            if isinstance(image, (str, os.PathLike)):
                path = image
                image = mmcv.imread(path)
                if image is None:
                    raise DeployError(f'cannot read image {path}')
            data = self.preprocess(image)
            sample = DetDataSample(metainfo=dict(
                img_shape=data['img_shape'], ori_shape=data['ori_shape'],
                scale_factor=data['scale_factor']))
            results.append(with_predictions(
                sample, self.run(data['image'], data['img_shape'], data['scale_factor'])))
        return results


def with_predictions(sample, outputs: Tuple[np.ndarray, ...]):
    """``sample`` (a ``DetDataSample``) with the graph's outputs
    (:meth:`OnnxDetector.run`) as its ``pred_instances``."""
    boxes, scores, labels = outputs
    sample.pred_instances = InstanceData(bboxes=torch.from_numpy(boxes),
                                         scores=torch.from_numpy(scores),
                                         labels=torch.from_numpy(labels))
    return sample
