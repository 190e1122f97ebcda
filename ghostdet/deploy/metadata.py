"""What a runtime needs to know about an exported detector besides its graph:
the resize policy, mean/std, classes, the test settings baked into the graph
and a fingerprint of the architecture. It is written into the ONNX file's
metadata (and by :func:`ghostdet.deploy.export_detector` next to it as
``deploy.json``), read back, and checked against a config.
"""
import hashlib
import json
import os.path as osp
from typing import Optional

from mmengine.config import Config

from ..checkpoint.files import write_bytes_atomically
from ..data_check.config_paths import leaf_datasets
from ..errors import DeployError
from .detector_graphs import INPUT_NAMES, OUTPUT_NAMES

#: ONNX opset of the exported graphs; 16 is the first with RoiAlign's
#: ``coordinate_transformation_mode`` (RoIAlign ``aligned=True``).
OPSET = 17
METADATA_KEY = 'ghostdet'
FORMAT_VERSION = 1
# Config keys that do not change what the exported graph computes.
_NOT_ARCHITECTURE = ('init_cfg', 'train_cfg', 'test_cfg', 'data_preprocessor', 'frozen_stages',
                     'norm_eval', 'with_cp', 'pretrained')


def _architecture(value):
    if isinstance(value, dict):
        return {key: _architecture(item) for key, item in sorted(value.items())
                if key not in _NOT_ARCHITECTURE and not key.startswith('loss')}
    if isinstance(value, (list, tuple)):
        return [_architecture(item) for item in value]
    return value


def architecture_fingerprint(cfg: Config) -> str:
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


def deploy_metadata(cfg: Config) -> dict:
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


def save_onnx(model, onnx_file: str, *, metadata: Optional[dict] = None) -> None:
    """Write an ONNX model (a ``ModelProto``), with ``metadata`` (a dict) in
    its metadata_props if given, atomically: an existing file is replaced
    only by a complete one."""
    if metadata is not None:
        del model.metadata_props[:]
        entry = model.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, json.dumps(metadata)
    write_bytes_atomically(model.SerializeToString(), onnx_file)


def metadata_of(onnx_file: str) -> Optional[dict]:
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


def read_metadata(onnx_file: str) -> dict:
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


def check_metadata_matches(metadata: dict, cfg: Config, onnx_file: str) -> None:
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
