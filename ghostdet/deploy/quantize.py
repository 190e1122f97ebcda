"""INT8 models for ONNX Runtime's CPU provider: static quantisation in QDQ
format with per-channel weights (ONNX Runtime's recommended CPU path),
calibrated on real images.

Only the convolutions and fully connected layers are quantised
(``Conv``, ``Gemm``, ``MatMul``): they hold nearly all the multiply-adds,
and the post-processing (box decoding, NMS) must stay in float. Of a
detector, only the stages asked for are (:data:`INT8_STAGES`): on x86 CPUs
GhostNet's depthwise and small 1x1 convolutions gain nothing from INT8,
the FPN's and heads' wide 3x3 convolutions gain 2-3x
(:data:`DEFAULT_INT8_STAGES`, measured in docs/benchmarks.md).
"""
import glob
import os.path as osp
import tempfile
from typing import Dict, List, Optional, Sequence

import numpy as np
import onnx
from mmengine.config import Config
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                      QuantType, quantize_static)
from onnxruntime.quantization.shape_inference import quant_pre_process

from ..data_check.config_paths import leaf_datasets
from ..errors import DeployError
from .metadata import metadata_of, save_onnx
from .preprocess import image_feed

QUANTIZED_OPS = ('Conv', 'Gemm', 'MatMul')
#: The stages of an exported detector graph, by the node-name prefixes its
#: modules give (:mod:`ghostdet.deploy.detector_graphs`; Faster R-CNN's box
#: head is traced as ``/bbox_head/``).
STAGE_PREFIXES = dict(backbone=('/backbone/', ), neck=('/neck/', ),
                      head=('/head/', '/rpn/', '/roi/', '/bbox_head/'))
INT8_STAGES = tuple(STAGE_PREFIXES)
#: What ``tools/deploy.py --int8`` quantises unless told otherwise.
DEFAULT_INT8_STAGES = ('neck', 'head')
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')


class _FeedReader(CalibrationDataReader):
    """ONNX Runtime's calibration reader over a list of input dicts."""

    def __init__(self, feeds):
        self._feeds = iter(feeds)

    def get_next(self):
        return next(self._feeds, None)


def quantize_int8(fp32_file: str,
                  int8_file: str,
                  feeds: List[Dict[str, np.ndarray]],
                  *,
                  op_types: Sequence[str] = QUANTIZED_OPS,
                  stages: Optional[Sequence[str]] = None) -> str:
    """Write a statically quantised copy of an ONNX model.

    Args:
        fp32_file (str): The float model.
        int8_file (str): Where the INT8 model goes.
        feeds (list[dict]): Calibration inputs, ``{input name: ndarray}``.
        op_types (Sequence[str]): Op types to quantise.
            Default: :data:`QUANTIZED_OPS`.
        stages (Sequence[str], optional): Detector stages to quantise, of
            :data:`INT8_STAGES`; default every node of ``op_types``. They
            are recorded in the model's ghostdet metadata (``int8``).

    Returns:
        str: ``int8_file``.

    Raises:
        DeployError: No calibration input, an unknown stage, or no node to
            quantise in the stages.
    """
    if not feeds:
        raise DeployError('INT8 calibration needs at least one input')
    metadata = metadata_of(fp32_file)
    nodes = None
    if stages is not None:
        nodes = _stage_nodes(onnx.load(fp32_file), stages, op_types)
        if metadata is not None:
            metadata = dict(metadata, int8=dict(stages=list(stages), format='QDQ',
                                                weights='int8 per channel',
                                                activations='uint8', calibration=len(feeds)))
    with tempfile.TemporaryDirectory() as tmp:
        prepared = osp.join(tmp, 'prepared.onnx')
        # ONNX shape inference and graph optimisation first, as onnxruntime
        # advises. Its symbolic shape inference is for transformers, and where
        # it gives up (Faster R-CNN's data-dependent shapes) it leaves
        # sym_shape_infer_temp.onnx and its tensors in the working directory.
        quant_pre_process(fp32_file, prepared, skip_symbolic_shape=True)
        quantized = osp.join(tmp, 'int8.onnx')
        quantize_static(prepared, quantized, _FeedReader(feeds), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, op_types_to_quantize=list(op_types),
                        nodes_to_quantize=nodes, calibrate_method=CalibrationMethod.MinMax)
        save_onnx(onnx.load(quantized), int8_file, metadata=metadata)
    return int8_file


def check_int8_stages(stages: Sequence[str]) -> None:
    """Check stage names against :data:`INT8_STAGES`.

    Raises:
        DeployError: None given, or one unknown.
    """
    if not stages or any(stage not in STAGE_PREFIXES for stage in stages):
        raise DeployError(f'INT8 stages {list(stages)}: choose one or more of '
                          f'{", ".join(INT8_STAGES)}')


def _stage_nodes(model, stages, op_types):
    """Names of the nodes of ``op_types`` in the detector stages ``stages``."""
    check_int8_stages(stages)
    prefixes = tuple(p for stage in stages for p in STAGE_PREFIXES[stage])
    nodes = [node.name for node in model.graph.node
             if node.op_type in op_types and node.name.startswith(prefixes)]
    if not nodes:
        raise DeployError(f'the model has no {"/".join(op_types)} node in the stages '
                          f'{list(stages)} (node names starting {", ".join(prefixes)})')
    return nodes


def training_image_dir(cfg: Config) -> str:
    """The folder of the config's training images."""
    _, dataset = next(leaf_datasets(cfg.train_dataloader.dataset))
    prefix = (dataset.get('data_prefix') or {}).get('img', '')
    return osp.join(dataset.get('data_root', ''), prefix)


def calibration_inputs(cfg: Config,
                       metadata: dict,
                       *,
                       image_dir: Optional[str] = None,
                       num_images: int = 32) -> List[Dict[str, np.ndarray]]:
    """Calibration inputs of a detector graph: ``num_images`` images spread
    evenly over ``image_dir`` (default: the config's training images),
    preprocessed as the runtime does.

    Raises:
        DeployError: No image is found.
    """
    import mmcv
    image_dir = image_dir or training_image_dir(cfg)
    paths = sorted(p for p in glob.glob(osp.join(image_dir, '**', '*'), recursive=True)
                   if p.lower().endswith(IMAGE_EXTENSIONS))
    if not paths:
        raise DeployError(f'no calibration images in {image_dir}: give a folder of training '
                          'images with --calibration-images')
    picked = [paths[i] for i in np.linspace(0, len(paths) - 1, min(num_images, len(paths)),
                                            dtype=int)]
    return [image_feed(mmcv.imread(path), metadata['preprocess']) for path in picked]


__all__ = ['DEFAULT_INT8_STAGES', 'INT8_STAGES', 'calibration_inputs', 'check_int8_stages',
           'quantize_int8',
           'training_image_dir']
