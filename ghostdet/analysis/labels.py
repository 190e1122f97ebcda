"""How often a detector gives one object several labels: the share of
ground-truth objects matched by confident predictions of two or more classes
(what a reader of ``predictions.jpg`` sees as a square boxed as "square 0.55,
triangle 0.48")."""
from typing import Dict, Sequence

import numpy as np
import torch
from mmdet.structures.bbox import bbox_overlaps

from ..data_check import load_coco_json
from ..errors import InputError


def _ground_truth_boxes(ann_file: str) -> Dict[int, np.ndarray]:
    """``{image id: Nx4 xyxy boxes}`` of the non-crowd objects of a COCO file."""
    coco = load_coco_json(ann_file)
    boxes = {image['id']: [] for image in coco['images']}
    for ann in coco['annotations']:
        if not ann.get('iscrowd', 0):
            x, y, w, h = ann['bbox']
            boxes[ann['image_id']].append([x, y, x + w, y + h])
    return {image_id: np.asarray(b, dtype=np.float32).reshape(-1, 4)
            for image_id, b in boxes.items()}


def count_multi_label_objects(predictions: Sequence[dict],
                              ann_file: str,
                              *,
                              score_thr: float = 0.3,
                              iou_thr: float = 0.5) -> dict:
    """Count the ground-truth objects matched by predictions of two or more
    different classes.

    A prediction matches an object when it scores at least ``score_thr`` and
    its box overlaps the object's with IoU at least ``iou_thr``.

    Args:
        predictions (Sequence[dict]): One entry per image as MMDetection's
            ``DumpDetResults`` writes them (``tools/test.py --out``):
            ``img_id`` and ``pred_instances`` with ``bboxes`` (xyxy, in the
            original image), ``scores`` and ``labels``.
        ann_file (str): The COCO annotation file of those images.
        score_thr (float): Least score of a counted prediction.
        iou_thr (float): Least IoU of a match.

    Returns:
        dict: ``num_objects`` (in the predicted images), ``num_multi_label``,
        ``multi_label_share`` (their ratio; 0 without objects) and
        ``num_found`` (objects matched by at least one prediction).
    """
    truth = _ground_truth_boxes(ann_file)
    num_objects = num_multi = num_found = 0
    for result in predictions:
        gt = truth.get(int(result['img_id']))
        if gt is None:
            raise InputError(f"image id {result['img_id']} of the predictions is not in "
                           f'{ann_file}: pass the annotation file the predictions were made on')
        num_objects += len(gt)
        pred = result['pred_instances']
        scores = torch.as_tensor(pred['scores'])
        keep = scores >= score_thr
        if not keep.any() or not len(gt):
            continue
        boxes = torch.as_tensor(pred['bboxes'], dtype=torch.float32)[keep]
        labels = torch.as_tensor(pred['labels'])[keep]
        matched = bbox_overlaps(torch.from_numpy(gt), boxes) >= iou_thr  # objects x preds
        classes_per_object = [len(torch.unique(labels[row])) for row in matched]
        num_found += sum(n >= 1 for n in classes_per_object)
        num_multi += sum(n >= 2 for n in classes_per_object)
    return dict(num_objects=num_objects, num_multi_label=num_multi, num_found=num_found,
                multi_label_share=num_multi / num_objects if num_objects else 0.0)
