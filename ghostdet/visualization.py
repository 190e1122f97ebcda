"""Pictures of a detector's predictions a person can read: ground truth beside
the predictions, a score threshold, and labels placed so they never overlap."""
import json
import math
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

Box = Tuple[float, float, float, float]  # x1, y1, x2, y2

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_FONT_SCALE = 0.4
_PAD = 2
# Distinct colours (RGB), one per class, cycling.
_PALETTE = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
            (70, 240, 240), (240, 50, 230), (210, 245, 60), (0, 128, 128), (170, 110, 40),
            (128, 0, 0), (0, 0, 128)]


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_labels(boxes: Sequence[Box], sizes: Sequence[Tuple[int, int]],
                 image_size: Tuple[int, int]) -> List[Box]:
    """Where to put each box's label so that no two labels overlap.

    Labels are placed in the order given (put the most important first): each
    takes the first free spot among those around its box (above, inside the
    top, below, inside the bottom; left, then right corner), else the free
    spot of the image nearest its box. Only when the image has no free spot
    left does a label overlap others.

    Args:
        boxes (Sequence[tuple]): ``(x1, y1, x2, y2)`` of each box.
        sizes (Sequence[tuple]): ``(width, height)`` of each label.
        image_size (tuple): ``(width, height)`` of the image.

    Returns:
        list[tuple]: ``(x1, y1, x2, y2)`` of each label, inside the image.
    """
    width, height = image_size
    placed = np.zeros((0, 4))
    for (x1, y1, x2, y2), (w, h) in zip(boxes, sizes):
        near = np.array([(x1, y1 - h), (x1, y1), (x1, y2), (x1, y2 - h),
                         (x2 - w, y1 - h), (x2 - w, y1), (x2 - w, y2), (x2 - w, y2 - h)])
        grid = np.stack(np.meshgrid(np.arange(0, width - w + 1, 4),
                                    np.arange(0, height - h + 1, 2)), -1).reshape(-1, 2)
        grid = grid[np.argsort(np.hypot(grid[:, 0] - x1, grid[:, 1] - y1), kind='stable')]
        spots = np.clip(np.concatenate([np.round(near), grid]), 0,
                        [max(width - w, 0), max(height - h, 0)])
        candidates = np.concatenate([spots, spots + [w, h]], 1)
        overlapping = ((candidates[:, None, 0] < placed[None, :, 2]) &
                       (placed[None, :, 0] < candidates[:, None, 2]) &
                       (candidates[:, None, 1] < placed[None, :, 3]) &
                       (placed[None, :, 1] < candidates[:, None, 3])).sum(1)
        placed = np.concatenate([placed, candidates[np.argmin(overlapping)][None]])
    return [tuple(int(v) for v in label) for label in placed.tolist()]


def draw_boxes(image: np.ndarray, boxes: np.ndarray, labels: Sequence[str],
               class_indices: Sequence[int], title: Optional[str] = None) -> np.ndarray:
    """Draw boxes (clipped to the image) and their labels on a copy of an RGB
    image; labels are placed by :func:`place_labels` in the order given."""
    canvas = np.ascontiguousarray(image.copy())
    height, width = canvas.shape[:2]
    boxes = np.clip(np.asarray(boxes, dtype=np.float64).reshape(-1, 4), 0,
                    [width - 1, height - 1, width - 1, height - 1]).round().astype(int)
    sizes = []
    for text in labels:
        (w, h), baseline = cv2.getTextSize(text, _FONT, _FONT_SCALE, 1)
        sizes.append((w + 2 * _PAD, h + baseline + 2 * _PAD))
    spots = place_labels([tuple(b) for b in boxes], sizes, (width, height))
    for box, index in zip(boxes, class_indices):
        color = _PALETTE[index % len(_PALETTE)]
        cv2.rectangle(canvas, tuple(box[:2]), tuple(box[2:]), color, 2)
    for (x1, y1, x2, y2), text, index in zip(spots, labels, class_indices):
        x1, y1, x2, y2 = map(int, (x1, y1, x2, y2))
        cv2.rectangle(canvas, (x1, y1), (x2, y2), _PALETTE[index % len(_PALETTE)], -1)
        cv2.putText(canvas, text, (x1 + _PAD, y2 - _PAD - 2), _FONT, _FONT_SCALE,
                    (255, 255, 255), 1, cv2.LINE_AA)
    if title:
        canvas = np.concatenate([np.full((18, width, 3), 255, np.uint8), canvas])
        cv2.putText(canvas, title, (4, 13), _FONT, _FONT_SCALE, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


def tile_images(images: Sequence[np.ndarray], columns: int = 2, gap: int = 4) -> np.ndarray:
    """Arrange RGB images of any sizes in a grid on a white background."""
    columns = min(columns, len(images))
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


def _ground_truth_by_file(ann_file: str) -> Dict[str, Tuple[np.ndarray, List[str], List[int]]]:
    """Boxes (x1, y1, x2, y2), class names and class indices per file name."""
    with open(ann_file) as f:
        data = json.load(f)
    categories = {c['id']: (index, c['name']) for index, c in enumerate(data['categories'])}
    files = {image['id']: image['file_name'] for image in data['images']}
    found: Dict[str, list] = {name: [] for name in files.values()}
    for ann in data['annotations']:
        if ann['image_id'] in files and ann['category_id'] in categories:
            x, y, w, h = ann['bbox']
            found[files[ann['image_id']]].append((x, y, x + w, y + h, ann['category_id']))
    result = {}
    for name, anns in found.items():
        indices = [categories[a[4]][0] for a in anns]
        result[name] = (np.array([a[:4] for a in anns]).reshape(-1, 4),
                        [categories[a[4]][1] for a in anns], indices)
    return result


def draw_predictions(config: str,
                     checkpoint: str,
                     image_paths: Sequence[str],
                     out_file: str,
                     *,
                     score_thr: float = 0.3,
                     ann_file: Optional[str] = None,
                     device: str = 'cpu',
                     columns: int = 2,
                     cfg_options: Optional[dict] = None) -> dict:
    """Run a detector on a few images and save them as one picture: for each
    image its ground truth (when ``ann_file`` is given) beside the
    predictions scoring at least ``score_thr``.

    Args:
        config (str): Config file of the detector.
        checkpoint (str): Checkpoint to load.
        image_paths (Sequence[str]): Images to run on.
        out_file (str): Where to write the picture (.jpg or .png).
        score_thr (float): Only boxes scoring at least this are drawn.
        ann_file (str, optional): COCO annotations of the images (matched
            by file name), drawn beside the predictions.
        device (str): Device to run on. Default: 'cpu'.
        columns (int): Images per row of the picture (an image with its
            ground truth takes one cell).
        cfg_options (dict, optional): Config overrides.

    Returns:
        dict: ``predictions`` (a :obj:`DetDataSample` per image),
        ``num_boxes_drawn`` (predicted boxes drawn) and ``picture``.
    """
    import mmcv
    from mmdet.apis import inference_detector, init_detector

    model = init_detector(config, checkpoint, device=device, cfg_options=cfg_options)
    classes = model.dataset_meta['classes']
    truth = _ground_truth_by_file(ann_file) if ann_file else {}
    panels, results, num_boxes = [], [], 0
    for path in image_paths:
        image = mmcv.imread(path, channel_order='rgb')
        result = inference_detector(model, path)
        results.append(result)
        instances = result.pred_instances
        keep = (instances.scores >= score_thr).nonzero().flatten()
        order = keep[instances.scores[keep].argsort(descending=True)]
        labels = [int(i) for i in instances.labels[order]]
        texts = [f'{classes[label]} {float(score):.2f}'
                 for label, score in zip(labels, instances.scores[order])]
        num_boxes += len(order)
        predicted = draw_boxes(image, instances.bboxes[order].cpu().numpy(), texts, labels,
                               title=f'predictions >= {score_thr:.2f}')
        shown_truth = next((v for k, v in truth.items() if path.endswith(k)), None)
        if shown_truth is not None:
            boxes, names, indices = shown_truth
            shown = draw_boxes(image, boxes, names, indices, title='ground truth')
            predicted = np.concatenate([shown, np.full((shown.shape[0], 4, 3), 255, np.uint8),
                                        predicted], 1)
        panels.append(predicted)
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    mmcv.imwrite(tile_images(panels, columns)[..., ::-1], out_file)
    return dict(predictions=results, num_boxes_drawn=num_boxes, picture=out_file)
