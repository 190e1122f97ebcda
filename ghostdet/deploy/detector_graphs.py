"""Whole detectors as single exportable graphs: image in, final boxes out.

Each graph module calls the trained detector's own modules (backbone, neck,
heads, anchor generator, RoI level mapping) and then MMDetection's test-time
post-processing, written with :mod:`ghostdet.deploy.graph_ops`, so that one
``model.onnx`` runs with ONNX Runtime alone.

Graph inputs (batch of one image):

- ``image``: ``(1, 3, H, W)`` float32, resized, normalised and padded as the
  config's test pipeline and data preprocessor do;
- ``img_shape``: ``(2, )`` float32, the resized image's ``(h, w)`` before
  padding (boxes are clipped to it);
- ``scale_factor``: ``(2, )`` float32, ``(1 / w_scale, 1 / h_scale)``: boxes
  are multiplied by it to return to the original image.

Outputs: ``boxes`` ``(N, 4)`` (x1, y1, x2, y2 in the original image),
``scores`` ``(N, )`` and ``labels`` ``(N, )`` int64, best first,
``N <= max_per_img``.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.ops import roi_align

from ..errors import DeployError
from .graph_ops import (batched_nms, decode_boxes, min_size_mask, padded_topk,
                        rescale_boxes)

INPUT_NAMES = ('image', 'img_shape', 'scale_factor')
OUTPUT_NAMES = ('boxes', 'scores', 'labels')


def _require(condition, what, config_key):
    if not condition:
        raise DeployError(f'cannot export this detector: {what} ({config_key}). ghostdet '
                          f'exports RetinaNet (RetinaHead, anchors, DeltaXYWHBBoxCoder, nms) and '
                          f'Faster R-CNN (RPNHead, StandardRoIHead with RoIAlign and a box head); '
                          f'change the config or run it in PyTorch.')


def _check_nms(test_cfg, key):
    nms = test_cfg.get('nms') or {}
    _require(nms.get('type', 'nms') == 'nms' and not nms.get('class_agnostic', False),
             f"NMS type {nms.get('type')!r} is not plain class-aware 'nms'", f'{key}.nms')
    _require(test_cfg.get('nms_pre', 1000) > 0, 'nms_pre must be positive', f'{key}.nms_pre')


def _check_anchor_head(head, key):
    _require(type(head.prior_generator).__name__ == 'AnchorGenerator',
             f'prior generator {type(head.prior_generator).__name__} is not AnchorGenerator',
             f'{key}.anchor_generator')
    _require(type(head.bbox_coder).__name__ == 'DeltaXYWHBBoxCoder',
             f'box coder {type(head.bbox_coder).__name__} is not DeltaXYWHBBoxCoder',
             f'{key}.bbox_coder')
    _require(head.use_sigmoid_cls, 'the classifier is not sigmoid-based',
             f'{key}.loss_cls.use_sigmoid')


class RetinaNetGraph(nn.Module):
    """RetinaNet with MMDetection's ``predict`` post-processing:
    per level, sigmoid scores, the top ``nms_pre`` (anchor, class) pairs,
    ``score > score_thr``; decoding, clipping, rescaling, ``min_bbox_size``,
    class-aware ``batched_nms`` and the best ``max_per_img``."""

    def __init__(self, detector):
        super().__init__()
        head = detector.bbox_head
        _require(type(head).__name__ == 'RetinaHead',
                 f'head {type(head).__name__} is not RetinaHead', 'model.bbox_head.type')
        _check_anchor_head(head, 'model.bbox_head')
        _check_nms(head.test_cfg, 'model.test_cfg')
        self.backbone, self.neck, self.head = detector.backbone, detector.neck, head
        self.test_cfg = head.test_cfg

    def forward(self, image, img_shape, scale_factor):
        cfg, head = self.test_cfg, self.head
        cls_scores, bbox_preds = head(self.neck(self.backbone(image)))
        priors = head.prior_generator.grid_priors([score.shape[-2:] for score in cls_scores],
                                                  dtype=image.dtype, device=image.device)
        num_classes, nms_pre = head.cls_out_channels, cfg.get('nms_pre', -1)
        level_scores, level_labels, level_deltas, level_priors = [], [], [], []
        for cls_score, bbox_pred, level_priors_ in zip(cls_scores, bbox_preds, priors):
            scores = cls_score[0].permute(1, 2, 0).reshape(-1, num_classes).sigmoid()
            deltas = bbox_pred[0].permute(1, 2, 0).reshape(-1, head.bbox_coder.encode_size)
            # filter_scores_and_topk over (anchor, class) pairs.
            top_scores, top_indices = padded_topk(scores.reshape(-1), nms_pre)
            anchors = torch.div(top_indices, num_classes, rounding_mode='floor')
            padding = deltas.new_zeros(nms_pre, 4)
            level_scores.append(top_scores)
            level_labels.append(top_indices % num_classes)
            level_deltas.append(torch.cat([deltas, padding])[anchors])
            level_priors.append(torch.cat([level_priors_, padding])[anchors])
        scores = torch.cat(level_scores)
        labels = torch.cat(level_labels)
        boxes = decode_boxes(head.bbox_coder, torch.cat(level_priors), torch.cat(level_deltas),
                             img_shape)
        boxes = rescale_boxes(boxes, scale_factor)
        valid = (scores > cfg.get('score_thr', 0)) & \
            min_size_mask(boxes, cfg.get('min_bbox_size', -1))
        keep = batched_nms(boxes, scores, labels, valid, cfg.nms.iou_threshold,
                           cfg.max_per_img)
        return boxes[keep], scores[keep], labels[keep]


class FasterRCNNGraph(nn.Module):
    """Faster R-CNN with MMDetection's ``predict``: RPN proposals (per level
    top ``nms_pre``, decoding, clipping, ``min_bbox_size``, NMS per level,
    the best ``max_per_img``), RoIs mapped to FPN levels by scale, RoIAlign
    (ONNX ``RoiAlign``, opset 16+), the box head, softmax, per-class
    decoding, rescaling and ``multiclass_nms``."""

    def __init__(self, detector):
        super().__init__()
        rpn, roi = detector.rpn_head, detector.roi_head
        _require(type(rpn).__name__ == 'RPNHead', f'RPN head {type(rpn).__name__} is not '
                 'RPNHead', 'model.rpn_head.type')
        _check_anchor_head(rpn, 'model.rpn_head')
        _check_nms(rpn.test_cfg, 'model.test_cfg.rpn')
        _require(type(roi).__name__ == 'StandardRoIHead' and not roi.with_mask,
                 f'RoI head {type(roi).__name__} is not a StandardRoIHead without masks',
                 'model.roi_head')
        extractor = roi.bbox_roi_extractor
        _require(type(extractor).__name__ == 'SingleRoIExtractor' and
                 type(extractor.roi_layers[0]).__name__ == 'RoIAlign' and
                 extractor.roi_layers[0].pool_mode == 'avg',
                 'the RoI extractor is not a SingleRoIExtractor with RoIAlign (avg)',
                 'model.roi_head.bbox_roi_extractor')
        bbox_head = roi.bbox_head
        _require(type(bbox_head.bbox_coder).__name__ == 'DeltaXYWHBBoxCoder' and
                 not bbox_head.custom_cls_channels,
                 'the box head does not use DeltaXYWHBBoxCoder and softmax scores',
                 'model.roi_head.bbox_head')
        _check_nms(roi.test_cfg, 'model.test_cfg.rcnn')
        self.backbone, self.neck = detector.backbone, detector.neck
        self.rpn, self.roi = rpn, roi

    def _proposals(self, feats, img_shape):
        rpn, cfg = self.rpn, self.rpn.test_cfg
        cls_scores, bbox_preds = rpn(feats)
        priors = rpn.prior_generator.grid_priors([score.shape[-2:] for score in cls_scores],
                                                 dtype=feats[0].dtype, device=feats[0].device)
        nms_pre = cfg.nms_pre
        level_scores, level_ids, level_deltas, level_priors = [], [], [], []
        for level, (cls_score, bbox_pred, level_priors_) in enumerate(
                zip(cls_scores, bbox_preds, priors)):
            scores = cls_score[0].permute(1, 2, 0).reshape(-1).sigmoid()
            deltas = bbox_pred[0].permute(1, 2, 0).reshape(-1, rpn.bbox_coder.encode_size)
            top_scores, _, top_deltas, top_priors = padded_topk(scores, nms_pre, deltas,
                                                                level_priors_)
            level_scores.append(top_scores)
            level_ids.append(torch.full_like(top_scores, level, dtype=torch.long))
            level_deltas.append(top_deltas)
            level_priors.append(top_priors)
        scores = torch.cat(level_scores)
        boxes = decode_boxes(rpn.bbox_coder, torch.cat(level_priors), torch.cat(level_deltas),
                             img_shape)
        valid = (scores >= 0) & min_size_mask(boxes, cfg.get('min_bbox_size', -1))
        keep = batched_nms(boxes, scores, torch.cat(level_ids), valid, cfg.nms.iou_threshold,
                           cfg.max_per_img)
        return boxes[keep]

    def _roi_features(self, feats, rois):
        extractor = self.roi.bbox_roi_extractor
        feats = feats[:extractor.num_inputs]
        levels = extractor.map_roi_levels(rois, len(feats))
        layer = extractor.roi_layers[0]
        roi_feats = rois.new_zeros(rois.shape[0], extractor.out_channels, *layer.output_size)
        for level, (feat, layer) in enumerate(zip(feats, extractor.roi_layers)):
            indices = (levels == level).nonzero().squeeze(1)
            level_feats = roi_align(feat, rois[indices], layer.output_size, layer.spatial_scale,
                                    layer.sampling_ratio, layer.aligned)
            roi_feats = roi_feats.index_put((indices, ), level_feats)
        return roi_feats

    def forward(self, image, img_shape, scale_factor):
        feats = self.neck(self.backbone(image))
        proposals = self._proposals(feats, img_shape)
        rois = torch.cat([proposals.new_zeros(proposals.shape[0], 1), proposals], dim=1)
        bbox_head, cfg = self.roi.bbox_head, self.roi.test_cfg
        cls_score, bbox_pred = bbox_head(self._roi_features(feats, rois))
        scores = F.softmax(cls_score, dim=-1)
        num_classes = bbox_head.num_classes
        regressed = 1 if bbox_head.reg_class_agnostic else num_classes
        boxes = decode_boxes(bbox_head.bbox_coder, rois[:, 1:].repeat_interleave(regressed, 0),
                             bbox_pred.reshape(-1, 4), img_shape)
        boxes = rescale_boxes(boxes, scale_factor).reshape(-1, regressed, 4)
        # multiclass_nms: every (RoI, class) pair but the background.
        boxes = boxes.expand(-1, num_classes, 4).reshape(-1, 4)
        labels = torch.arange(num_classes, device=scores.device).expand(scores.shape[0],
                                                                       num_classes).reshape(-1)
        scores = scores[:, :-1].reshape(-1)
        keep = batched_nms(boxes, scores, labels, scores > cfg.score_thr,
                           cfg.nms.iou_threshold, cfg.max_per_img)
        return boxes[keep], scores[keep], labels[keep]


#: Detector type (``model.type``) -> its graph module.
GRAPHS = {'RetinaNet': RetinaNetGraph, 'FasterRCNN': FasterRCNNGraph}


def detector_graph(detector):
    """The exportable graph module of a built detector.

    Raises:
        DeployError: The detector or one of its heads cannot be exported.
    """
    kind = type(detector).__name__
    _require(kind in GRAPHS, f'detector type {kind} is not supported', 'model.type')
    return GRAPHS[kind](detector).eval()
