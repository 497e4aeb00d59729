"""Box IoU on ``xyxy`` arrays, in whatever frame the boxes share (pixels or normalised), pure numpy.

One definition for the PR filter's matching (detections vs layout boxes) and the layout sampler's
overlap check (a new box vs the placed ones), so both mean the same overlap.
"""
from __future__ import annotations

import numpy as np


def as_boxes(boxes, what: str) -> np.ndarray:
    """``(N, 4)`` float64 ``xyxy`` array; an empty input of any shape gives ``(0, 4)``."""
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 4))
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f'{what} must have shape (N, 4) in xyxy, got {arr.shape}')
    return arr


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix ``(len(a), len(b))`` of ``xyxy`` boxes; degenerate boxes have IoU 0 with everything."""
    a, b = as_boxes(a, 'boxes a'), as_boxes(b, 'boxes b')
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
