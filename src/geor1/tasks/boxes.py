"""Vectorized box geometry for rec, ovd and gres: IoU, box masks and COCO-style average precision.

Boxes are float arrays ``(..., 4)`` of ``x1, y1, x2, y2`` in original-image pixels (x right, y
down), with ``x1 <= x2`` and ``y1 <= y2`` (:func:`geor1.coords.clip_boxes` orders corners).
Areas are continuous: a box covers ``(x2 - x1) * (y2 - y1)`` square pixels.
"""

from __future__ import annotations

import numpy as np

# pycocotools' Params: the same expressions, so the floats are bit-identical.
COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1)
COCO_RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1)
COCO_MAX_DETS = 100


def box_area(boxes) -> np.ndarray:
    """Area of ``(..., 4)`` boxes in square pixels (0 for an empty or inverted box)."""
    b = np.asarray(boxes, dtype=np.float64)
    return np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)


def intersection_union(a, b) -> tuple[np.ndarray, np.ndarray]:
    """Intersection and union areas of paired boxes ``a[i]``, ``b[i]`` (broadcasting ``(..., 4)``)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = w * h
    return inter, box_area(a) + box_area(b) - inter


def paired_iou(a, b) -> np.ndarray:
    """IoU of paired boxes (broadcasting ``(..., 4)``); 0 where the union is empty."""
    inter, union = intersection_union(a, b)
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def pairwise_iou(a, b) -> np.ndarray:
    """IoU matrix ``(N, M)`` between ``(N, 4)`` and ``(M, 4)`` boxes."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    return paired_iou(a[:, None, :], b[None, :, :])


def box_mask(boxes, width: int, height: int) -> np.ndarray:
    """Union of ``(K, 4)`` boxes as a ``(height, width)`` bool mask.

    Pixel ``(row r, col c)`` is inside a box when its centre ``(c + .5, r + .5)`` satisfies
    ``x1 < c + .5 <= x2`` and ``y1 < r + .5 <= y2`` — the rule pycocotools uses when it rasterizes
    a box (``mask.frPyObjects``), so a box filled here equals the same box as a COCO mask.
    """
    mask = np.zeros((height, width), dtype=bool)
    for x1, y1, x2, y2 in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
        c1, c2 = np.clip(np.floor(np.array([x1, x2]) + 0.5), 0, width).astype(int)
        r1, r2 = np.clip(np.floor(np.array([y1, y2]) + 0.5), 0, height).astype(int)
        mask[r1:r2, c1:c2] = True
    return mask


def _coco_iou(dets: np.ndarray, gts: np.ndarray) -> np.ndarray:
    """pycocotools' box IoU (``maskApi.c`` ``bbIou``, no crowd) of ``(B, P, 4)`` against ``(B, G, 4)``
    xyxy boxes, computed from ``x, y, w, h`` in the same order of operations → ``(B, P, G)``."""
    dx, dy = dets[..., 0:1], dets[..., 1:2]
    dw, dh = dets[..., 2:3] - dets[..., 0:1], dets[..., 3:4] - dets[..., 1:2]
    gx, gy = gts[..., 0][:, None, :], gts[..., 1][:, None, :]
    gw, gh = (gts[..., 2] - gts[..., 0])[:, None, :], (gts[..., 3] - gts[..., 1])[:, None, :]
    w = np.minimum(dw + dx, gw + gx) - np.maximum(dx, gx)
    h = np.minimum(dh + dy, gh + gy) - np.maximum(dy, gy)
    inter = w * h
    union = dw * dh + gw * gh - inter
    ok = (w > 0) & (h > 0)
    return np.divide(inter, union, out=np.zeros_like(inter), where=ok)


def coco_average_precision(preds: list, gts: list, *, max_dets: int = COCO_MAX_DETS,
                           chunk: int = 1024) -> np.ndarray:
    """COCO box AP of each sample at each IoU threshold 0.50:0.05:0.95 → ``(B, 10)``.

    Sample ``i`` is one image and one category: ``preds[i]`` ``(n_i, 4)`` detections in the order
    the model wrote them, every one scored 1.0; ``gts[i]`` ``(m_i, 4)`` ground-truth boxes (no
    crowd). The result equals pycocotools' ``COCOeval(..., "bbox")`` precision averaged over the
    101 recall thresholds, area ``all``, ``maxDets=100``:

    * detections are taken in output order (all scores tie; pycocotools' stable sort keeps the
      order) and only the first ``max_dets`` count;
    * each detection, in turn, matches the still-unmatched ground truth of highest IoU among those
      with IoU >= the threshold, ties going to the later ground-truth box (pycocotools' ``>=``
      scan); precision is ``tp / (tp + fp + eps)`` made monotone from the right, read at the first
      detection whose recall reaches each recall threshold (0 beyond the last one).

    ``mean(axis=1)`` is AP@[.5:.95] (``stats[0]``), ``[:, 0]`` AP50. Rows with ``m_i == 0`` are NaN
    (AP is undefined without ground truth); rows with ``n_i == 0 < m_i`` are 0. Samples are padded
    to the largest size within chunks of ``chunk`` rows of similar size, so cost is linear in B.
    """
    n_t, n_r = len(COCO_IOU_THRESHOLDS), len(COCO_RECALL_THRESHOLDS)
    preds = [np.asarray(p, dtype=np.float64).reshape(-1, 4)[:max_dets] for p in preds]
    gts = [np.asarray(g, dtype=np.float64).reshape(-1, 4) for g in gts]
    n_det = np.array([len(p) for p in preds], dtype=int)
    n_gt = np.array([len(g) for g in gts], dtype=int)
    out = np.full((len(preds), n_t), np.nan)
    out[(n_det == 0) & (n_gt > 0)] = 0.0
    todo = np.flatnonzero((n_det > 0) & (n_gt > 0))
    todo = todo[np.lexsort((n_gt[todo], n_det[todo]))]  # similar sizes together: little padding
    thr = np.minimum(COCO_IOU_THRESHOLDS, 1 - 1e-10)  # pycocotools caps the threshold below 1
    for start in range(0, len(todo), chunk):
        idx = todo[start:start + chunk]
        b, p_max, g_max = len(idx), n_det[idx].max(), n_gt[idx].max()
        dets = np.zeros((b, p_max, 4))
        gt = np.zeros((b, g_max, 4))
        for row, i in enumerate(idx):
            dets[row, :n_det[i]] = preds[i]
            gt[row, :n_gt[i]] = gts[i]
        d_ok = np.arange(p_max) < n_det[idx, None]  # (b, P)
        g_ok = np.arange(g_max) < n_gt[idx, None]  # (b, G)
        ious = np.where(d_ok[:, :, None] & g_ok[:, None, :], _coco_iou(dets, gt), -1.0)

        # Greedy matching, one detection at a time, all images and thresholds at once.
        taken = np.zeros((b, n_t, g_max), dtype=bool)
        hit = np.zeros((b, n_t, p_max), dtype=bool)
        rows, ts = np.arange(b)[:, None], np.arange(n_t)[None, :]
        for d in range(p_max):
            cand = np.broadcast_to(ious[:, d, None, :], (b, n_t, g_max))
            cand = np.where(taken | (cand < thr[None, :, None]), -1.0, cand)
            best = g_max - 1 - cand[..., ::-1].argmax(-1)  # last index of the maximum
            matched = cand.max(-1) >= 0
            hit[:, :, d] = matched
            taken[rows, ts, best] |= matched

        # Past a sample's last detection tp and fp stop growing, so recall and precision stay at their
        # final values: padding changes neither the envelope nor the sum below.
        valid = d_ok[:, None, :]
        tp = np.cumsum(hit & valid, axis=-1, dtype=np.float64)
        fp = np.cumsum(~hit & valid, axis=-1, dtype=np.float64)
        recall = tp / n_gt[idx, None, None]
        precision = tp / (fp + tp + np.spacing(1))
        precision = np.maximum.accumulate(precision[..., ::-1], axis=-1)[..., ::-1]  # monotone from the right
        # Recall threshold r reads the precision at the first detection with recall >= r
        # (searchsorted side="left"), so detection p takes the thresholds in (recall[p-1], recall[p]].
        reached = np.searchsorted(COCO_RECALL_THRESHOLDS, recall, side="right")  # thresholds <= recall
        takes = np.diff(reached, axis=-1, prepend=0)
        out[idx] = (takes * precision).sum(axis=-1) / n_r
    return out
