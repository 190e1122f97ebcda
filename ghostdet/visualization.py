"""Pictures of a detector's predictions."""
import math
import os
import os.path as osp

import mmcv
import numpy as np


def draw_predictions(config, checkpoint, image_paths, out_file, score_thr=0.3,
                     device='cpu', columns=2, cfg_options=None):
    """Run a detector on a few images and save them, boxes drawn, as one picture.

    Args:
        config (str): Config file of the detector.
        checkpoint (str): Checkpoint to load.
        image_paths (Sequence[str]): Images to run on.
        out_file (str): Where to write the picture (.jpg or .png).
        score_thr (float): Only boxes scoring at least this are drawn.
        device (str): Device to run on. Default: 'cpu'.
        columns (int): Images per row of the picture.
        cfg_options (dict, optional): Config overrides.

    Returns:
        list[:obj:`DetDataSample`]: The predictions, one per image.
    """
    from mmdet.apis import inference_detector, init_detector
    from mmdet.visualization import DetLocalVisualizer

    model = init_detector(config, checkpoint, device=device, cfg_options=cfg_options)
    visualizer = DetLocalVisualizer.get_instance('ghostdet_predictions')
    visualizer.dataset_meta = model.dataset_meta
    panels, results = [], []
    for path in image_paths:
        image = mmcv.imread(path, channel_order='rgb')
        result = inference_detector(model, path)
        visualizer.add_datasample(
            osp.basename(path), image, data_sample=result, draw_gt=False, show=False,
            pred_score_thr=score_thr)
        panels.append(visualizer.get_image())
        results.append(result)
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    mmcv.imwrite(tile_images(panels, columns)[..., ::-1], out_file)
    return results


def tile_images(images, columns=2, gap=4):
    """Arrange RGB images of any sizes in a grid on a white background."""
    rows = math.ceil(len(images) / columns)
    cell_h = max(image.shape[0] for image in images)
    cell_w = max(image.shape[1] for image in images)
    canvas = np.full((rows * (cell_h + gap) - gap, columns * (cell_w + gap) - gap, 3), 255,
                     dtype=np.uint8)
    for index, image in enumerate(images):
        top = (index // columns) * (cell_h + gap)
        left = (index % columns) * (cell_w + gap)
        canvas[top:top + image.shape[0], left:left + image.shape[1]] = image
    return canvas
