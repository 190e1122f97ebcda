"""Run an exported detector with ONNX Runtime or OpenVINO.

:func:`open_session` is the one place that turns (ONNX file, runtime,
precision, threads) into a callable session; both runtimes are behind it and
imported only when asked for, so ghostdet works without OpenVINO.
:class:`OnnxDetector` is the runtime for users: images in (paths or BGR
arrays), MMDetection ``DetDataSample`` results out; it resizes, normalises
and pads as the config's test pipeline does, from the model's own metadata.
:mod:`ghostdet.deploy.mmengine_model` wraps it as an MMDetection model for
``tools/test.py CONFIG model.onnx``.
"""
import functools
import os
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.structures import InstanceData

from ..errors import DeployError
from ..runtime_choice import PRECISIONS, RUNTIMES
from .metadata import read_metadata
from .preprocess import graph_feed, preprocess_image

_OPENVINO_PRECISION = dict(fp32='f32', bf16='bf16')
_INSTALL = dict(onnxruntime="pip install 'ghostdet[deploy]'",
                openvino="pip install 'ghostdet[openvino]'")


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


def _import_runtime(runtime: str):
    """The runtime's Python package, or a :class:`DeployError` naming how
    to install it."""
    import importlib
    try:
        return importlib.import_module(runtime)
    except ImportError:
        other = next(r for r in RUNTIMES if r != runtime)
        raise DeployError(f'runtime {runtime!r} is not installed: {_INSTALL[runtime]}, '
                          f'or choose --runtime {other}') from None


def check_runtime_choice(runtime: str, precision: str) -> None:
    """Check a runtime and precision by name (no import).

    Raises:
        DeployError: An unknown runtime or precision, or bf16 asked of ONNX
            Runtime.
    """
    if runtime not in RUNTIMES:
        raise DeployError(f'unknown runtime {runtime!r}: choose one of {", ".join(RUNTIMES)}')
    if precision not in PRECISIONS:
        raise DeployError(f'unknown precision {precision!r}: choose one of '
                          f'{", ".join(PRECISIONS)}')
    if precision == 'bf16' and runtime != 'openvino':
        raise DeployError('--precision bf16 needs --runtime openvino: ONNX Runtime computes in '
                          'fp32 on CPUs')


@functools.cache
def openvino_core() -> 'openvino.Core':
    """The process's one ``openvino.Core``. One, not one per model: a
    process that creates a second Core and uses both may crash later
    (openvinotoolkit/openvino#35338; ultralytics/ultralytics#25864 saw it in
    a test worker after ~20 model loads; this suite crashed the same way
    twice when each session made its own Core)."""
    return _import_runtime('openvino').Core()


def openvino_supports_bf16() -> bool:
    """Whether OpenVINO's CPU plugin offers bf16 on this CPU (it does where
    the CPU has AVX512-BF16 or AMX)."""
    return 'BF16' in openvino_core().get_property('CPU', 'OPTIMIZATION_CAPABILITIES')


class Session:
    """An ONNX model loaded in a runtime (:func:`open_session`):
    ``session(feed)`` runs it.

    Attributes:
        runtime (str): 'onnxruntime' or 'openvino'.
        precision (str): 'fp32' or 'bf16'.
        handle: The runtime's own object: an ``onnxruntime.InferenceSession``
            or an ``openvino.CompiledModel``.
    """

    def __init__(self, run: Callable, *, runtime: str, precision: str, handle):
        self._run, self.runtime, self.precision, self.handle = run, runtime, precision, handle

    def __call__(self, feed: Dict[str, np.ndarray]) -> List[np.ndarray]:
        """Run the model on ``{input name: ndarray}``; the outputs in the
        model's order."""
        return self._run(feed)


def _openvino_session(onnx_file, precision, threads):
    _import_runtime('openvino')  # installed? (the Core may exist already)
    core = openvino_core()
    if precision == 'bf16' and not openvino_supports_bf16():
        raise DeployError(
            f"--precision bf16: this CPU ({core.get_property('CPU', 'FULL_DEVICE_NAME')}) has "
            'no bfloat16 instructions (AVX512-BF16 or AMX); use --precision fp32')
    # Set explicitly: on CPUs with bf16 instructions OpenVINO picks bf16 by itself.
    config = {'INFERENCE_PRECISION_HINT': _OPENVINO_PRECISION[precision],
              'PERFORMANCE_HINT': 'LATENCY'}
    # Default: torch's threads, so that a process limited to N threads
    # (a test worker, --threads) does not start one per core.
    config['INFERENCE_NUM_THREADS'] = int(threads or torch.get_num_threads())
    compiled = core.compile_model(core.read_model(onnx_file), 'CPU', config)
    request = compiled.create_infer_request()
    num_outputs = len(compiled.outputs)

    def run(feed):
        request.infer(feed)
        return [request.get_output_tensor(i).data.copy() for i in range(num_outputs)]

    return Session(run, runtime='openvino', precision=precision, handle=compiled)


def _onnxruntime_session(onnx_file, threads):
    ort = _import_runtime('onnxruntime')
    session = ort.InferenceSession(onnx_file, session_options(threads),
                                   providers=['CPUExecutionProvider'])
    return Session(lambda feed: session.run(None, feed), runtime='onnxruntime',
                   precision='fp32', handle=session)


def open_session(onnx_file: str,
                 *,
                 runtime: str = 'onnxruntime',
                 precision: str = 'fp32',
                 threads: Optional[int] = None) -> Session:
    """An ONNX model loaded in a runtime on the CPU, as a callable.

    Args:
        onnx_file (str): The ONNX model (float or QDQ INT8).
        runtime (str): One of :data:`RUNTIMES`. Default: 'onnxruntime'.
        precision (str): One of :data:`PRECISIONS`: the precision of the
            float computations (``bf16``: OpenVINO on a CPU with bfloat16
            instructions). Default: 'fp32'.
        threads (int, optional): Inference threads; default as many as
            PyTorch uses (``torch.get_num_threads()``).

    Returns:
        Session: ``session(feed)`` with ``feed`` ``{input name: ndarray}``
        returns the outputs, in the model's order, as arrays.

    Raises:
        DeployError: An unknown runtime or precision, a runtime that is not
            installed, or bf16 where it is not available.
    """
    check_runtime_choice(runtime, precision)
    if not os.path.isfile(onnx_file):
        raise DeployError(f'ONNX file not found: {onnx_file}')
    if runtime == 'openvino':
        return _openvino_session(onnx_file, precision, threads)
    return _onnxruntime_session(onnx_file, threads)


class OnnxDetector:
    """An exported RetinaNet or Faster R-CNN on the CPU, in ONNX Runtime or
    OpenVINO (:func:`open_session`).

    Args:
        onnx_file (str): ``model.onnx`` (or ``model_int8.onnx``) written by
            ``tools/deploy.py``.
        runtime (str): ``'onnxruntime'`` (default) or ``'openvino'``.
        precision (str): ``'fp32'`` (default) or ``'bf16'`` (OpenVINO, on
            CPUs with bfloat16 instructions).
        threads (int, optional): Inference threads; default as many as PyTorch uses.

    Example:
        >>> detector = OnnxDetector('work_dirs/deploy/model.onnx')
        >>> result = detector(['demo.jpg'])[0]
        >>> result.pred_instances.bboxes, result.pred_instances.labels
    """

    def __init__(self,
                 onnx_file: str,
                 *,
                 runtime: str = 'onnxruntime',
                 precision: str = 'fp32',
                 threads: Optional[int] = None):
        check_runtime_choice(runtime, precision)
        self.onnx_file, self.runtime, self.precision = onnx_file, runtime, precision
        self.metadata = read_metadata(onnx_file)
        self.classes = tuple(self.metadata['classes'])
        self.session = open_session(onnx_file, runtime=runtime, precision=precision,
                                    threads=threads)

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
        return tuple(self.session(graph_feed(image, img_shape, scale_factor)))

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
