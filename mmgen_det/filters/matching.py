"""Precision/recall of one image's detections against its layout boxes: the filter's maths, pure numpy.

In: detections (``xyxy`` boxes, scores, labels) and layout boxes (``xyxy``, labels), all in the same
pixel frame. Out: a :class:`PRScore` — which detection matched which layout box, and

    precision = matched / detections   (kept detections: score >= score_thr)
    recall    = matched / layout boxes

Matching is one-to-one and greedy by score (as COCO evaluation does it): detections are visited from
the highest score down, and each takes the still-unmatched layout box it overlaps most, if that IoU is
>= ``iou_thr``. A second detection on an already-taken box is therefore an unmatched (extra) detection.
Class-agnostic by default: the filter detector may not know the layout's classes (COCO has no "fish").

Empty cases, chosen so that each number only ever penalises what it measures:

* no kept detections -> precision = 1.0 (nothing was claimed, so nothing was claimed wrongly);
* no layout boxes    -> recall = 1.0 (nothing was asked for, so nothing was missed).

So an image with boxes but no detections scores (1.0, 0.0) and fails any recall threshold, and an
empty layout with detections scores (0.0, 1.0) and fails any precision threshold.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..utils.boxes import as_boxes, box_iou

# Defaults measured by benchmarks/filter_auc.py with the default filter detector (the CPU recipe's FCOS
# on the frozen ImageNet Lite0; results: benchmarks/filter_auc_lite0.json): the matching thresholds of
# the best ROC AUC of min(P, R) on its grid (0.974), and the keep thresholds of its `kept` table that
# keep the most correct images and the fewest with shifted boxes (59 and 1 of 60). That detector finds
# nearly every layout box (mean recall 0.96) and also boxes the layout lacks (mean precision 0.06), so
# recall does the separating; the earlier min P = min R = 0.1 kept 15% of the correct images.
DEFAULT_SCORE_THR = 0.05
DEFAULT_IOU_THR = 0.3
DEFAULT_MIN_PRECISION = 0.01
DEFAULT_MIN_RECALL = 0.5


def check_unit_interval(name: str, value: float) -> float:
    """Thresholds are probabilities/overlaps: refuse anything outside [0, 1] (or NaN) up front."""
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f'{name} must be in [0, 1], got {value}')
    return value


@dataclass(frozen=True)
class Match:
    """Detection ``det`` (index among the kept detections, highest score first) took layout box ``box``."""
    det: int
    box: int
    iou: float
    score: float


@dataclass(frozen=True)
class PRScore:
    """One image's result. ``matches`` are in matching order (detection score, descending).

    ``kept`` indexes the input detections that were kept, highest score first (the order ``Match.det``
    counts in), so the detections themselves can be stored next to the score, unmatched ones included.
    """
    precision: float
    recall: float
    num_detections: int
    num_boxes: int
    matches: tuple[Match, ...] = field(default=())
    kept: tuple[int, ...] = field(default=())

    @property
    def num_matched(self) -> int:
        return len(self.matches)


def match_detections(det_boxes, det_scores, gt_boxes, iou_thr: float = DEFAULT_IOU_THR,
                     det_labels=None, gt_labels=None, class_aware: bool = False) -> tuple[Match, ...]:
    """Greedy one-to-one matching by score; ``det`` indices refer to the inputs' order."""
    det_boxes, gt_boxes = as_boxes(det_boxes, 'detection boxes'), as_boxes(gt_boxes, 'layout boxes')
    det_scores = np.asarray(det_scores, dtype=np.float64).reshape(-1)
    if len(det_scores) != len(det_boxes):
        raise ValueError(f'{len(det_boxes)} detection boxes but {len(det_scores)} scores')
    iou = box_iou(det_boxes, gt_boxes)
    if class_aware:
        if det_labels is None or gt_labels is None:
            raise ValueError('class_aware matching needs det_labels and gt_labels')
        same = np.asarray(det_labels).reshape(-1)[:, None] == np.asarray(gt_labels).reshape(-1)[None, :]
        iou = np.where(same, iou, -1.0)
    taken = np.zeros(len(gt_boxes), dtype=bool)
    matches = []
    for d in np.argsort(-det_scores, kind='stable'):
        if not len(gt_boxes):
            break
        candidates = np.where(taken, -1.0, iou[d])
        g = int(np.argmax(candidates))
        if candidates[g] >= iou_thr and candidates[g] > 0:
            taken[g] = True
            matches.append(Match(det=int(d), box=g, iou=float(iou[d, g]), score=float(det_scores[d])))
    return tuple(matches)


def precision_recall(num_matched: int, num_detections: int, num_boxes: int) -> tuple[float, float]:
    """The two ratios with the empty cases of the module docstring."""
    precision = num_matched / num_detections if num_detections else 1.0
    recall = num_matched / num_boxes if num_boxes else 1.0
    return precision, recall


def score_image(det_boxes, det_scores, gt_boxes, score_thr: float = DEFAULT_SCORE_THR,
                iou_thr: float = DEFAULT_IOU_THR,
                det_labels=None, gt_labels=None, class_aware: bool = False) -> PRScore:
    """Keep detections with score >= ``score_thr``, match them to the layout boxes, count.

    ``Match.det`` indexes the *kept* detections sorted by score (descending), so it is stable
    whatever order the detector returned them in.
    """
    check_unit_interval('score_thr', score_thr)
    check_unit_interval('iou_thr', iou_thr)
    det_boxes = as_boxes(det_boxes, 'detection boxes')
    det_scores = np.asarray(det_scores, dtype=np.float64).reshape(-1)
    if len(det_scores) != len(det_boxes):
        raise ValueError(f'{len(det_boxes)} detection boxes but {len(det_scores)} scores')
    keep = np.where(det_scores >= score_thr)[0]
    keep = keep[np.argsort(-det_scores[keep], kind='stable')]
    labels = None if det_labels is None else np.asarray(det_labels).reshape(-1)[keep]
    gt_boxes = as_boxes(gt_boxes, 'layout boxes')
    matches = match_detections(det_boxes[keep], det_scores[keep], gt_boxes, iou_thr,
                               labels, gt_labels, class_aware)
    precision, recall = precision_recall(len(matches), len(keep), len(gt_boxes))
    return PRScore(precision=precision, recall=recall, num_detections=len(keep),
                   num_boxes=len(gt_boxes), matches=matches, kept=tuple(int(k) for k in keep))
