"""Detection on images with a trained detector, through MMDetection's own
``DetInferencer`` (``tools/infer.py``)."""
import os.path as osp
from typing import List

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
          batch_size: int = 1) -> List[dict]:
    """Detect objects in an image or a folder of images.

    Writes, as ``DetInferencer`` does, ``out_dir/vis/<image>`` (the image with
    the predictions scoring at least ``score_thr`` drawn) and
    ``out_dir/preds/<image name>.json`` (labels, scores and boxes of all
    predictions, boxes as ``[x1, y1, x2, y2]`` in pixels of the input).

    Args:
        config (str): Config file of the detector.
        checkpoint (str): Its checkpoint (loaded weights-only).
        inputs (str): An image file or a folder of images.
        out_dir (str): Where the pictures and JSON results go.
        score_thr (float): Score threshold of the drawn boxes. Default: 0.3.
        device (str): 'cpu' or 'cuda:0', ... Default: 'cpu'.
        batch_size (int): Images per forward pass. Default: 1.

    Returns:
        list[dict]: Per image, ``labels``, ``scores`` and ``bboxes``.
    """
    from mmdet.apis import DetInferencer
    for path, what in ((config, 'config file'), (inputs, 'input image or folder')):
        if not osp.exists(path):
            raise InputError(f'{what} not found: {path}')
    if not is_remote(checkpoint) and not osp.isfile(checkpoint):
        raise CheckpointNotFoundError(f'checkpoint not found: {checkpoint}')
    load_checkpoints_weights_only()  # DetInferencer loads through MMEngine's loaders
    inferencer = DetInferencer(model=config, weights=checkpoint, device=device,
                               show_progress=False)
    result = inferencer(inputs, batch_size=batch_size, out_dir=out_dir, no_save_pred=False,
                        pred_score_thr=score_thr)
    return result['predictions']
