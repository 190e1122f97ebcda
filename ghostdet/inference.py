"""Detection on images with a trained detector, through MMDetection's own
``DetInferencer`` (``tools/infer.py``)."""
import os.path as osp
from typing import List, Optional

from .checkpoint.files import is_remote
from .checkpoint.safety import load_checkpoints_weights_only
from .errors import CheckpointNotFoundError, InputError


def infer(config: str,
          checkpoint: str,
          inputs: str,
          *,
          out_dir: str,
          score_thr: float = 0.3,
          device: str = 'cpu',
          batch_size: int = 1,
          runtime: Optional[str] = None,
          precision: Optional[str] = None) -> List[dict]:
    """Detect objects in an image or a folder of images.

    Writes, as ``DetInferencer`` does, ``out_dir/vis/<image>`` (the image with
    the predictions scoring at least ``score_thr`` drawn) and
    ``out_dir/preds/<image name>.json`` (labels, scores and boxes of all
    predictions, boxes as ``[x1, y1, x2, y2]`` in pixels of the input).

    Args:
        config (str): Config file of the detector.
        checkpoint (str): Its checkpoint (loaded weights-only), or a
            ``model.onnx`` exported by ``tools/deploy.py``.
        inputs (str): An image file or a folder of images.
        out_dir (str): Where the pictures and JSON results go.
        score_thr (float): Score threshold of the drawn boxes. Default: 0.3.
        device (str): 'cpu' or 'cuda:0', ... Default: 'cpu'.
        batch_size (int): Images per forward pass. Default: 1.
        runtime (str, optional): For an ``.onnx`` model: 'onnxruntime'
            (default) or 'openvino'.
        precision (str, optional): For an ``.onnx`` model: 'fp32' (default)
            or 'bf16' (OpenVINO on CPUs with bfloat16 instructions).

    Returns:
        list[dict]: Per image, ``labels``, ``scores`` and ``bboxes``.
    """
    from mmdet.apis import DetInferencer
    for path, what in ((config, 'config file'), (inputs, 'input image or folder')):
        if not osp.exists(path):
            raise InputError(f'{what} not found: {path}')
    if not is_remote(checkpoint) and not osp.isfile(checkpoint):
        raise CheckpointNotFoundError(f'checkpoint not found: {checkpoint}')
    from .runtime_choice import onnx_runtime_choice
    choice = onnx_runtime_choice(checkpoint, runtime=runtime, precision=precision)
    if choice is not None:
        if device != 'cpu':
            raise InputError(f'an .onnx model runs on the CPU (ONNX Runtime or OpenVINO), not '
                             f'{device}: drop --device')
        inferencer = _onnx_inferencer(config, checkpoint, runtime=choice[0],
                                      precision=choice[1])
    else:
        load_checkpoints_weights_only()  # DetInferencer loads through MMEngine's loaders
        inferencer = DetInferencer(model=config, weights=checkpoint, device=device,
                                   show_progress=False)
    result = inferencer(inputs, batch_size=batch_size, out_dir=out_dir, no_save_pred=False,
                        pred_score_thr=score_thr)
    return result['predictions']


def _onnx_inferencer(config, onnx_file, *, runtime, precision):
    """``DetInferencer`` on an exported model: the config's test pipeline
    and visualiser, the model's graph in the chosen runtime and its classes."""
    import warnings

    from mmdet.apis import DetInferencer

    from .config import load_config
    from .deploy.mmengine_model import onnx_model_config
    from .models import register_all_modules
    cfg = load_config(config)
    register_all_modules()
    cfg.model = onnx_model_config(cfg, onnx_file, runtime=runtime, precision=precision)
    with warnings.catch_warnings():  # "no weights loaded": the graph holds them
        warnings.simplefilter('ignore')
        inferencer = DetInferencer(model=cfg, weights=None, device='cpu', show_progress=False)
    meta = dict(inferencer.model.dataset_meta,
                classes=tuple(inferencer.model.detector.classes))
    inferencer.model.dataset_meta = inferencer.visualizer.dataset_meta = meta
    return inferencer
