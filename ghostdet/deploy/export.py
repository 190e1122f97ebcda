"""Export a trained detector to one self-contained ONNX model
(``tools/deploy.py``).

The graph (:mod:`ghostdet.deploy.detector_graphs`) holds the whole detector
in its deploy form (:func:`ghostdet.deploy.deploy_model` for ONNX Runtime)
and MMDetection's post-processing, NMS included, so ONNX Runtime alone runs
it. What the runtime needs besides the image (resize policy, mean/std,
classes, the test settings baked in, and a fingerprint of the architecture)
is written into the ONNX file's metadata and, for people and other
runtimes, next to it as ``deploy.json``.
"""
import hashlib
import io
import json
import os.path as osp

import torch

from ..checkpoint import (checkpoint_state_dict, find_mismatches, load_checkpoint_file,
                          write_bytes_atomically, write_text_atomically)
from ..data_check.config_paths import leaf_datasets
from ..errors import CheckpointError, DeployError
from .detector_graphs import INPUT_NAMES, OUTPUT_NAMES, detector_graph
from .fuse import _round_up, deploy_model

#: ONNX opset of the exported graphs; 16 is the first with RoiAlign's
#: ``coordinate_transformation_mode`` (RoIAlign ``aligned=True``).
OPSET = 17
METADATA_KEY = 'ghostdet'
FORMAT_VERSION = 1
# Config keys that do not change what the exported graph computes.
_NOT_ARCHITECTURE = ('init_cfg', 'train_cfg', 'test_cfg', 'data_preprocessor', 'frozen_stages',
                     'norm_eval', 'with_cp', 'pretrained')


def load_detector_config(config, cfg_options=None):
    """Load a detector config with ``--cfg-options`` applied (as the tools
    do, :func:`ghostdet.runner.load_config`), registering MMDetection's and
    ghostdet's modules.

    Raises:
        InputError: The config file does not exist.
    """
    from ..models import register_all_modules
    from ..runner import load_config
    cfg = load_config(config, cfg_options=cfg_options)
    register_all_modules()
    return cfg


def build_detector(cfg, checkpoint=None):
    """Build the detector of a config in eval mode, with a checkpoint's
    weights if one is given (see :func:`load_trained_weights`)."""
    from mmdet.registry import MODELS
    detector = MODELS.build(cfg.model)
    if checkpoint is not None:
        load_trained_weights(detector, checkpoint)
    detector.eval()
    return detector


def load_trained_weights(model, checkpoint):
    """Load a checkpoint (weights-only) strictly: every tensor of the model
    must be in it with its shape.

    Raises:
        CheckpointError: The checkpoint is missing, unsafe, unreadable or of
            another model.
    """
    state = checkpoint_state_dict(load_checkpoint_file(checkpoint))
    mismatches = find_mismatches(model, state)
    if mismatches:
        first = (mismatches.missing[:1]
                 + [f'{key} {found} != {wanted}' for key, found, wanted in
                    mismatches.wrong_shape[:1]])
        raise CheckpointError(
            f"checkpoint {checkpoint} does not fit the config's {type(model).__name__}: "
            f'{len(mismatches.missing)} of its {mismatches.total} tensors missing, '
            f'{len(mismatches.wrong_shape)} of another shape (first: {"; ".join(first)}). '
            'Give the checkpoint trained with this config.')
    model.load_state_dict(state, strict=False)


def _architecture(value):
    if isinstance(value, dict):
        return {key: _architecture(item) for key, item in sorted(value.items())
                if key not in _NOT_ARCHITECTURE and not key.startswith('loss')}
    if isinstance(value, (list, tuple)):
        return [_architecture(item) for item in value]
    return value


def architecture_fingerprint(cfg):
    """A hash of what the config's model computes at test time (types,
    widths, classes, anchors; not the training or test settings)."""
    text = json.dumps(_architecture(cfg.model.to_dict()), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _test_dataset(cfg):
    datasets = [dataset for _, dataset in leaf_datasets(cfg.test_dataloader.dataset)]
    if len(datasets) != 1:
        raise DeployError(f'the test dataloader holds {len(datasets)} datasets; export needs '
                          'one (its classes and test pipeline go into the model)')
    return datasets[0]


def _classes(cfg):
    from mmdet.registry import DATASETS
    dataset = _test_dataset(cfg)
    classes = (dataset.get('metainfo') or {}).get('classes')
    if classes is None:
        classes = DATASETS.get(dataset.type).METAINFO['classes']
    return list(classes)


def _resize_policy(cfg):
    dataset = _test_dataset(cfg)
    resizes = [step for step in dataset.pipeline if step.type == 'Resize']
    if len(resizes) != 1 or not resizes[0].get('keep_ratio', False) or 'scale' not in resizes[0]:
        raise DeployError('the test pipeline must have one Resize(scale=..., keep_ratio=True) '
                          '(the runtime resizes as it does)')
    return dict(scale=list(resizes[0].scale), keep_ratio=True)


def _test_cfg(cfg):
    return json.loads(json.dumps(cfg.model.test_cfg.to_dict(), default=str))


def deploy_metadata(cfg):
    """What a runtime needs to use the exported graph of this config: input
    policy, mean/std, classes, the test settings baked into the graph, and
    the architecture fingerprint."""
    preprocessor = cfg.model.data_preprocessor
    return dict(
        format='ghostdet-detector', version=FORMAT_VERSION, detector=cfg.model.type,
        backbone=cfg.model.backbone.type,
        config=osp.basename(cfg.filename) if cfg.filename else None,
        fingerprint=architecture_fingerprint(cfg), classes=_classes(cfg), test_cfg=_test_cfg(cfg),
        preprocess=dict(_resize_policy(cfg), mean=list(preprocessor.mean),
                        std=list(preprocessor.std),
                        bgr_to_rgb=bool(preprocessor.get('bgr_to_rgb', False)),
                        pad_size_divisor=int(preprocessor.get('pad_size_divisor', 1)),
                        pad_value=float(preprocessor.get('pad_value', 0))),
        inputs=list(INPUT_NAMES), outputs=list(OUTPUT_NAMES), opset=OPSET)


def save_onnx(model, onnx_file, metadata=None):
    """Write an ONNX model (a ``ModelProto``), with ``metadata`` (a dict) in
    its metadata_props if given, atomically: an existing file is replaced
    only by a complete one."""
    if metadata is not None:
        del model.metadata_props[:]
        entry = model.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, json.dumps(metadata)
    write_bytes_atomically(model.SerializeToString(), onnx_file)


def metadata_of(onnx_file):
    """The ghostdet metadata stored in an ONNX file, or None if it has none.

    Raises:
        DeployError: The file is missing or not ONNX.
    """
    import onnx
    if not osp.isfile(onnx_file):
        raise DeployError(f'ONNX file not found: {onnx_file}')
    try:
        model = onnx.load(onnx_file, load_external_data=False)
    except Exception as error:  # onnx raises DecodeError and others
        raise DeployError(f'{onnx_file} is not a readable ONNX model ({error})') from None
    props = {entry.key: entry.value for entry in model.metadata_props}
    return json.loads(props[METADATA_KEY]) if METADATA_KEY in props else None


def read_metadata(onnx_file):
    """The ghostdet metadata of an exported detector.

    Raises:
        DeployError: The file is missing, not ONNX, or not exported by
            ``tools/deploy.py``.
    """
    metadata = metadata_of(onnx_file)
    if metadata is None:
        raise DeployError(f'{onnx_file} was not exported by tools/deploy.py (no ghostdet '
                          'metadata); export the detector with tools/deploy.py CONFIG CHECKPOINT')
    return metadata


def check_metadata_matches(metadata, cfg, onnx_file):
    """Check that an exported model is the config's detector with its test
    settings.

    Raises:
        DeployError: The model was exported from another architecture, or
            with other test settings (score threshold, NMS, ...).
    """
    expected = architecture_fingerprint(cfg)
    if metadata.get('fingerprint') != expected:
        raise DeployError(
            f"{onnx_file} holds another model: exported from {metadata.get('config')} "
            f"({metadata.get('detector')}, {metadata.get('backbone')}, "
            f"{len(metadata.get('classes', []))} classes), which does not match this config's "
            f'{cfg.model.type} with {cfg.model.backbone.type}. Export this config with '
            'tools/deploy.py CONFIG CHECKPOINT.')
    if metadata.get('test_cfg') != _test_cfg(cfg):
        raise DeployError(
            f"{onnx_file} was exported with test_cfg {metadata.get('test_cfg')}, but the config "
            f'has {_test_cfg(cfg)}; the graph bakes them in. Export again with the same '
            '--cfg-options.')


def _example_inputs(cfg):
    """Inputs to trace the graph with: any padded size (height and width stay
    dynamic)."""
    divisor = int(cfg.model.data_preprocessor.get('pad_size_divisor', 1) or 1)
    height, width = _round_up(288, divisor), _round_up(320, divisor)
    return (torch.rand(1, 3, height, width), torch.tensor([height - 3., width - 5.]),
            torch.tensor([1.25, 1.5]))


def export_onnx(graph, onnx_file, example_inputs):
    """Export a detector graph to a path or a binary file object with the
    TorchScript exporter (``dynamo=False``: it exports RoIAlign and the NMS
    symbolic; ``dynamo=True`` needs onnxscript), opset :data:`OPSET`, dynamic
    image height and width."""
    import warnings
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore')  # TracerWarnings and the exporter's deprecation note
        torch.onnx.export(
            graph, example_inputs, onnx_file, dynamo=False, opset_version=OPSET,
            input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES),
            dynamic_axes={'image': {2: 'height', 3: 'width'}, 'boxes': {0: 'detections'},
                          'scores': {0: 'detections'}, 'labels': {0: 'detections'}})


def export_detector(config, checkpoint, *, out_dir, cfg_options=None, int8=False,
                    calibration_images=None, num_calibration=32):
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

    Returns:
        dict: ``onnx`` (path), ``json`` (path), ``metadata`` and, with
        ``int8``, ``onnx_int8``.

    Raises:
        InputError: The config does not exist.
        CheckpointError: The checkpoint is missing or of another model.
        DeployError: The detector cannot be exported.
    """
    cfg = load_detector_config(config, cfg_options)
    metadata = deploy_metadata(cfg)
    detector = build_detector(cfg)
    detector_graph(detector)  # raises DeployError before any work if it cannot be exported
    load_trained_weights(detector, checkpoint)
    graph = detector_graph(deploy_model(detector, target='onnxruntime'))
    import onnx
    onnx_file = osp.join(out_dir, 'model.onnx')
    exported = io.BytesIO()
    export_onnx(graph, exported, _example_inputs(cfg))
    save_onnx(onnx.load_from_string(exported.getvalue()), onnx_file, metadata)
    json_file = osp.join(out_dir, 'deploy.json')
    write_text_atomically(json.dumps(metadata, indent=2), json_file)
    result = dict(onnx=onnx_file, json=json_file, metadata=metadata)
    if int8:
        from .quantize import calibration_inputs, quantize_int8
        inputs = calibration_inputs(cfg, metadata, image_dir=calibration_images,
                                    num_images=num_calibration)
        result['onnx_int8'] = quantize_int8(onnx_file, osp.join(out_dir, 'model_int8.onnx'),
                                            inputs)
    return result
