"""MMDetection's test-time post-processing written with ops that export to
ONNX and run in ONNX Runtime: top-k candidates, box decoding, clipping,
rescaling, and NMS per class or level (``batched_nms``).

Each function follows the MMDetection 3.3 / MMCV 2.1 function it replaces
step by step, with the same float operations in the same order, so that the
exported graph gives MMDetection's results. Where MMDetection drops entries
(score threshold, small boxes) these functions keep the tensor shapes and
mark the entries invalid instead; NMS leaves them out.
"""
import inspect

import torch
from mmdet.models.task_modules.coders.delta_xywh_bbox_coder import delta2bbox
from torchvision.ops import nms as torchvision_nms

#: Score given to invalid entries; NMS keeps only scores above
#: ``_VALID_ABOVE`` (real scores are probabilities, >= 0).
_INVALID_SCORE = -1.
_VALID_ABOVE = -0.5


def padded_topk(scores, k, *rows):
    """The ``k`` highest ``scores`` (1-D, sorted) and the matching rows of
    each tensor in ``rows``, as ``filter_scores_and_topk`` and the RPN's
    per-level sort take them. The number of scores depends on the image
    size, so ``k`` padding entries with score -1 (invalid) are appended
    first: ``k`` may exceed the count.

    Returns:
        tuple: ``(top_scores, top_indices, *top_rows)``.
    """
    padded = torch.cat([scores, scores.new_full((k, ), _INVALID_SCORE)])
    top_scores, top_indices = padded.topk(k)
    return (top_scores, top_indices) + tuple(
        torch.cat([row, row.new_zeros(k, *row.shape[1:])])[top_indices] for row in rows)


def decode_boxes(coder, priors, deltas, img_shape):
    """``DeltaXYWHBBoxCoder.decode(priors, deltas, max_shape=img_shape)``.

    MMDetection's ``delta2bbox`` does the decoding; its in-place clipping to
    Python ints is replaced by the same clamp against ``img_shape`` (a
    float tensor ``(h, w)``), as the image size is an input of the graph.
    """
    # The heads call decode() without wh_ratio_clip: its default applies.
    wh_ratio_clip = inspect.signature(coder.decode).parameters['wh_ratio_clip'].default
    boxes = delta2bbox(priors, deltas, coder.means, coder.stds, max_shape=None,
                       wh_ratio_clip=wh_ratio_clip, clip_border=False,
                       add_ctr_clamp=coder.add_ctr_clamp, ctr_clamp=coder.ctr_clamp)
    if not coder.clip_border:
        return boxes
    height, width = img_shape[0], img_shape[1]
    upper = torch.stack([width, height, width, height]).repeat(boxes.shape[-1] // 4)
    return torch.minimum(boxes.clamp(min=0), upper)


def rescale_boxes(boxes, scale_factor):
    """``scale_boxes(boxes, [1 / s for s in scale_factor])``: ``scale_factor``
    is the graph input holding the reciprocals ``(1 / w_scale, 1 /
    h_scale)``, computed in double precision as MMDetection does."""
    return boxes * scale_factor.repeat(boxes.shape[-1] // 2)


def min_size_mask(boxes, min_bbox_size):
    """``(w > min_bbox_size) & (h > min_bbox_size)``, or all True when
    ``min_bbox_size`` is negative (no filter)."""
    width = boxes[:, 2] - boxes[:, 0]
    height = boxes[:, 3] - boxes[:, 1]
    if min_bbox_size < 0:
        return torch.ones_like(width, dtype=torch.bool)
    return (width > min_bbox_size) & (height > min_bbox_size)


class _NonMaxSuppression(torch.autograd.Function):
    """Single-class NMS of the boxes whose score is above a threshold, at
    most ``max_num`` kept, in descending score order: ONNX
    ``NonMaxSuppression`` in the graph, torchvision's NMS in PyTorch (the
    same greedy algorithm as MMCV's CPU ``nms``)."""

    @staticmethod
    def forward(ctx, boxes, scores, iou_threshold, max_num, score_threshold):
        candidates = (scores > score_threshold).nonzero().squeeze(1)
        keep = torchvision_nms(boxes[candidates], scores[candidates], iou_threshold)
        return candidates[keep[:max_num]]

    @staticmethod
    def symbolic(g, boxes, scores, iou_threshold, max_num, score_threshold):

        def constant(value, dtype):
            return g.op('Constant', value_t=torch.tensor(value, dtype=dtype))

        zero = constant([0], torch.long)
        boxes = g.op('Unsqueeze', boxes, zero)
        scores = g.op('Unsqueeze', g.op('Unsqueeze', scores, zero), zero)
        selected = g.op('NonMaxSuppression', boxes, scores, constant([max_num], torch.long),
                        constant([iou_threshold], torch.float),
                        constant([score_threshold], torch.float))
        # selected is (num_kept, 3): batch, class, box index.
        return g.op('Gather', selected, constant(2, torch.long), axis_i=1)


def batched_nms(boxes, scores, groups, valid, iou_threshold, max_num):
    """MMCV's ``batched_nms`` (NMS within each group: class or level) on the
    ``valid`` entries, as MMDetection calls it: the boxes of group ``i`` are
    shifted by ``i * (max coordinate + 1)`` so that groups never overlap,
    the max taken over the valid boxes, then one NMS.

    Returns:
        Tensor: Indices of the kept entries, best first, at most ``max_num``.
    """
    # One invalid entry so that no tensor is empty (a two-stage detector can
    # have no proposal).
    boxes = torch.cat([boxes, boxes.new_zeros(1, 4)])
    scores = torch.cat([torch.where(valid, scores, scores.new_tensor(_INVALID_SCORE)),
                        scores.new_full((1, ), _INVALID_SCORE)])
    groups = torch.cat([groups, groups.new_zeros(1)])
    valid = torch.cat([valid, valid.new_zeros(1)])
    max_coordinate = torch.where(valid[:, None], boxes, boxes.new_tensor(float('-inf'))).max()
    offsets = groups.to(boxes) * (max_coordinate + torch.tensor(1).to(boxes))
    return _NonMaxSuppression.apply(boxes + offsets[:, None], scores, float(iou_threshold),
                                    int(max_num), _VALID_ABOVE)
