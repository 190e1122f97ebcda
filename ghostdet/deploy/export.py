"""Export a trained detector to one self-contained ONNX model
(``tools/deploy.py``).

The graph (:mod:`ghostdet.deploy.detector_graphs`) holds the whole detector
in its deploy form (:func:`ghostdet.deploy.deploy_model` for ONNX Runtime)
and MMDetection's post-processing, NMS included, so ONNX Runtime alone runs
it. What the runtime needs besides the image (:mod:`ghostdet.deploy.metadata`)
is written into the ONNX file's metadata and, for people and other
runtimes, next to it as ``deploy.json``.
"""
import io
import json
import os.path as osp
from typing import BinaryIO, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.config import Config

from ..checkpoint.files import write_text_atomically
from ..checkpoint.pretrained import load_pretrained_strict
from ..config import load_config
from .detector_graphs import INPUT_NAMES, OUTPUT_NAMES, detector_graph
from .fuse import _round_up, deploy_model
from .metadata import OPSET, deploy_metadata, read_metadata, save_onnx


def load_detector_config(config: str, *, cfg_options: Optional[dict] = None) -> Config:
    """Load a detector config with ``--cfg-options`` applied (as the tools
    do, :func:`ghostdet.config.load_config`), registering MMDetection's and
    ghostdet's modules.

    Raises:
        InputError: The config file does not exist.
    """
    from ..models import register_all_modules
    cfg = load_config(config, cfg_options=cfg_options)
    register_all_modules()
    return cfg


def build_detector(cfg: Config, *, checkpoint: Optional[str] = None) -> nn.Module:
    """Build the detector of a config in eval mode, with a checkpoint's
    weights if one is given (see :func:`load_trained_weights`)."""
    from mmdet.registry import MODELS
    detector = MODELS.build(cfg.model)
    if checkpoint is not None:
        load_trained_weights(detector, checkpoint)
    detector.eval()
    return detector


def load_trained_weights(model: nn.Module, checkpoint: str) -> None:
    """Load a checkpoint (weights-only) strictly: every tensor of the model
    must be in it with its shape (:func:`ghostdet.checkpoint.load_pretrained_strict`
    with the whole state dict).

    Raises:
        CheckpointError: The checkpoint is missing, unsafe, unreadable or of
            another model.
    """
    load_pretrained_strict(model, checkpoint, prefix='',
                           target=f"the config's {type(model).__name__}",
                           hint='Give the checkpoint trained with this config.')


def _example_inputs(cfg):
    """Inputs to trace the graph with: any padded size (height and width stay
    dynamic)."""
    divisor = int(cfg.model.data_preprocessor.get('pad_size_divisor', 1) or 1)
    height, width = _round_up(288, divisor), _round_up(320, divisor)
    return (torch.rand(1, 3, height, width), torch.tensor([height - 3., width - 5.]),
            torch.tensor([1.25, 1.5]))


def export_onnx(graph: nn.Module, onnx_file: Union[str, BinaryIO],
                example_inputs: Tuple[torch.Tensor, ...]) -> None:
    """Export a detector graph to a path or a binary file object with the
    TorchScript exporter (``dynamo=False``: it exports RoIAlign and the NMS
    symbolic; ``dynamo=True`` needs onnxscript), opset
    :data:`ghostdet.deploy.metadata.OPSET`, dynamic image height and width."""
    import warnings
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore')  # TracerWarnings and the exporter's deprecation note
        torch.onnx.export(
            graph, example_inputs, onnx_file, dynamo=False, opset_version=OPSET,
            input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES),
            dynamic_axes={'image': {2: 'height', 3: 'width'}, 'boxes': {0: 'detections'},
                          'scores': {0: 'detections'}, 'labels': {0: 'detections'}})


def export_detector(config: str,
                    checkpoint: str,
                    *,
                    out_dir: str,
                    cfg_options: Optional[dict] = None,
                    int8: bool = False,
                    calibration_images: Optional[str] = None,
                    num_calibration: int = 32,
                    int8_stages: Optional[Sequence[str]] = None) -> dict:
    """Export a trained RetinaNet or Faster R-CNN to ``out_dir/model.onnx``
    (plus ``deploy.json``), and with ``int8`` a statically quantised
    ``out_dir/model_int8.onnx``.

    Args:
        config (str): Detector config file.
        checkpoint (str): Its trained checkpoint.
        out_dir (str): Output directory, created if missing.
        cfg_options (dict, optional): Config overrides, as ``--cfg-options``.
        int8 (bool): Also write the INT8 model. Default: False.
        calibration_images (str, optional): Folder of calibration images for
            INT8; default: the config's training images.
        num_calibration (int): Calibration images used. Default: 32.
        int8_stages (Sequence[str], optional): Stages quantised, of
            ``backbone``, ``neck``, ``head``; default
            :data:`ghostdet.deploy.quantize.DEFAULT_INT8_STAGES`. Recorded
            in ``deploy.json`` (``int8``) and the INT8 model's metadata.

    Returns:
        dict: ``onnx`` (path), ``json`` (path, ``deploy.json``: the
        metadata and, with ``int8``, what was quantised), ``metadata`` and,
        with ``int8``, ``onnx_int8`` and ``int8`` (what was quantised).

    Raises:
        InputError: The config does not exist.
        CheckpointError: The checkpoint is missing or of another model.
        DeployError: The detector cannot be exported.
    """
    if int8 and int8_stages is not None:
        from .quantize import check_int8_stages
        check_int8_stages(int8_stages)  # before any work
    cfg = load_detector_config(config, cfg_options=cfg_options)
    metadata = deploy_metadata(cfg)
    detector = build_detector(cfg)
    detector_graph(detector)  # raises DeployError before any work if it cannot be exported
    load_trained_weights(detector, checkpoint)
    graph = detector_graph(deploy_model(detector, target='onnxruntime'))
    import onnx
    onnx_file = osp.join(out_dir, 'model.onnx')
    exported = io.BytesIO()
    export_onnx(graph, exported, _example_inputs(cfg))
    save_onnx(onnx.load_from_string(exported.getvalue()), onnx_file, metadata=metadata)
    result = dict(onnx=onnx_file, metadata=metadata)
    described = metadata
    if int8:
        from .quantize import DEFAULT_INT8_STAGES, calibration_inputs, quantize_int8
        inputs = calibration_inputs(cfg, metadata, image_dir=calibration_images,
                                    num_images=num_calibration)
        result['onnx_int8'] = quantize_int8(onnx_file, osp.join(out_dir, 'model_int8.onnx'),
                                            inputs, stages=int8_stages or DEFAULT_INT8_STAGES)
        result['int8'] = dict(read_metadata(result['onnx_int8'])['int8'],
                              file='model_int8.onnx')
        described = dict(metadata, int8=result['int8'])
    result['json'] = osp.join(out_dir, 'deploy.json')
    write_text_atomically(json.dumps(described, indent=2), result['json'])
    return result
