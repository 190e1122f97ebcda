"""Run an exported detector with ONNX Runtime.

:class:`OnnxDetector` is the runtime for users: images in (paths or BGR
arrays), MMDetection ``DetDataSample`` results out; it resizes, normalises
and pads as the config's test pipeline does, from the model's own metadata.
:class:`OnnxRuntimeDetector` wraps the same session as an MMDetection model,
so that ``tools/test.py CONFIG model.onnx`` evaluates it with the config's
own dataloader, data preprocessor and metric.
"""
import os

import numpy as np
import torch
from mmdet.registry import MODELS
from mmengine.model import BaseModel
from mmengine.structures import InstanceData

from ..errors import DeployError
from .export import check_metadata_matches, read_metadata


def session_options(threads=None):
    """ONNX Runtime session options: ``threads`` intra-op threads (None: all
    cores, ONNX Runtime's default), one inter-op thread, all graph
    optimisations."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.inter_op_num_threads = 1
    if threads:
        options.intra_op_num_threads = int(threads)
    return options


class OnnxDetector:
    """An exported RetinaNet or Faster R-CNN on ONNX Runtime's CPU provider.

    Args:
        onnx_file (str): ``model.onnx`` (or ``model_int8.onnx``) written by
            ``tools/deploy.py``.
        threads (int, optional): Intra-op threads; default all cores.

    Example:
        >>> detector = OnnxDetector('work_dirs/deploy/model.onnx')
        >>> result = detector(['demo.jpg'])[0]
        >>> result.pred_instances.bboxes, result.pred_instances.labels
    """

    def __init__(self, onnx_file, *, threads=None):
        import onnxruntime as ort
        self.onnx_file = onnx_file
        self.metadata = read_metadata(onnx_file)
        self.classes = tuple(self.metadata['classes'])
        self.session = ort.InferenceSession(onnx_file, session_options(threads),
                                            providers=['CPUExecutionProvider'])

    def run(self, image, img_shape, scale_factor):
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
        if isinstance(image, torch.Tensor):
            image = image.detach().cpu().numpy()
        inputs = dict(image=np.ascontiguousarray(image, dtype=np.float32),
                      img_shape=np.array(img_shape, dtype=np.float32),
                      # Reciprocals in double precision, as MMDetection computes them.
                      scale_factor=np.array([1 / s for s in scale_factor], dtype=np.float32))
        return tuple(self.session.run(None, inputs))

    def preprocess(self, image):
        """:func:`preprocess_image` with this model's policy."""
        return preprocess_image(image, self.metadata['preprocess'])

    def __call__(self, images):
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
            results.append(_with_predictions(
                sample, self.run(data['image'], data['img_shape'], data['scale_factor'])))
        return results


def preprocess_image(image, policy):
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


def _with_predictions(sample, outputs):
    boxes, scores, labels = outputs
    sample.pred_instances = InstanceData(bboxes=torch.from_numpy(boxes),
                                         scores=torch.from_numpy(scores),
                                         labels=torch.from_numpy(labels))
    return sample


@MODELS.register_module()
class OnnxRuntimeDetector(BaseModel):
    """An exported detector as an MMDetection model for the test loop:
    ``test_step`` runs the config's data preprocessor, then the ONNX graph
    image by image (:func:`onnx_model_config` builds its config).

    Args:
        onnx_file (str): The exported model.
        data_preprocessor (dict): The config's ``model.data_preprocessor``.
        threads (int, optional): Intra-op threads; default all cores.
    """

    def __init__(self, onnx_file, data_preprocessor=None, threads=None, init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.detector = OnnxDetector(onnx_file, threads=threads)

    def forward(self, inputs, data_samples=None, mode='predict'):
        if mode != 'predict':
            raise DeployError(f'an ONNX model only predicts (mode={mode!r})')
        return [_with_predictions(sample, self.detector.run(
            inputs[i:i + 1], sample.img_shape, sample.scale_factor))
            for i, sample in enumerate(data_samples)]


def onnx_model_config(cfg, onnx_file, threads=None):
    """The ``model`` config that evaluates an exported detector in place of
    the config's PyTorch model, after checking that the file holds this
    config's detector with its test settings.

    Raises:
        DeployError: The file is not an exported ghostdet detector, or not
            this config's.
    """
    check_metadata_matches(read_metadata(onnx_file), cfg, onnx_file)
    return dict(type='OnnxRuntimeDetector', onnx_file=onnx_file, threads=threads,
                data_preprocessor=cfg.model.data_preprocessor)
