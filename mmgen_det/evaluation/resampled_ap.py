"""COCO AP of one model's detections on any resample of the test images, without a model.

pycocotools matches detections to boxes once per image, category and IoU threshold
(``COCOeval.evaluate``); that is the expensive part, and it does not change when the test images
are resampled. :class:`ResampledCocoAP` keeps those matches and redoes only the accumulation
(``COCOeval.accumulate``: detections of all images sorted by score, precision made monotone, read at
COCO's 101 recall points) for image weights ``w`` (how many times each test image is drawn). With
every weight 1 it gives pycocotools' numbers, as mmdet's ``CocoMetric`` reports them: mAP at 100
detections per image, mAP50 and per-class AP at the last of ``max_dets`` (mmdet: 1000).

Only true positives are visited: recall changes only there, and the monotone precision at a true
positive is the largest precision at a true positive at or after it (a false positive never has a
higher precision than the true positive before it), so COCO's curve is read exactly from them; the
false positives enter as counts (all weighted detections so far, less the true and ignored ones).
"""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Any

import numpy as np

#: ``CocoMetric``'s default ``proposal_nums``: mmdet's COCOeval ``maxDets``
MMDET_MAX_DETS = (100, 300, 1000)


@dataclass
class _CategoryMatches:
    """Every detection of one category over all test images, in COCO's accumulation order."""
    image: np.ndarray  # [D] index of the detection's image
    rank: np.ndarray  # [D] its rank by score within its image
    tp: list[np.ndarray]  # per IoU threshold: positions of the matched, not ignored detections
    ignored: np.ndarray | None  # [T, D] matched to an ignored (crowd) box; None when none is
    gt_per_image: np.ndarray  # [I] boxes of this category that count (not crowd/ignored)

    def __post_init__(self) -> None:
        # ``tp`` of all thresholds concatenated, with where each threshold starts and its length
        self.tp_all = np.concatenate(self.tp)
        self.tp_counts = np.array([len(t) for t in self.tp])
        self.tp_starts = np.concatenate([[0], np.cumsum(self.tp_counts)[:-1]])
        self.tp_thr = np.repeat(np.arange(len(self.tp)), self.tp_counts)


class ResampledCocoAP:
    """Per-image matches of one detections file against a COCO ground truth (see the module docstring)."""

    def __init__(self, gt: Any, detections: list[dict[str, Any]], max_dets: tuple[int, ...] = MMDET_MAX_DETS
                 ) -> None:
        from pycocotools.cocoeval import COCOeval
        coco_gt = load_coco(gt)
        self.image_ids = list(coco_gt.getImgIds())
        self.category_ids = list(coco_gt.getCatIds())
        self.category_names = [coco_gt.cats[c]['name'] for c in self.category_ids]
        self.max_dets = max_dets
        with contextlib.redirect_stdout(io.StringIO()):
            coco_dt = coco_gt.loadRes(detections) if detections else None
            if coco_dt is not None:
                ev = COCOeval(coco_gt, coco_dt, 'bbox')
                ev.params.imgIds, ev.params.catIds, ev.params.maxDets = self.image_ids, self.category_ids, list(max_dets)
                ev.evaluate()
        params = COCOeval(iouType='bbox').params  # COCO's recall points and IoU thresholds
        self.rec_thrs, self.num_thrs = params.recThrs, len(params.iouThrs)
        num_images, num_areas = len(self.image_ids), 4  # COCOeval's evalImgs: [category][area][image]
        self.categories = []
        for k, cat in enumerate(self.category_ids):
            if coco_dt is None:
                evals = [None] * num_images
            else:
                start = k * num_areas * num_images  # area range 0: 'all'
                evals = ev.evalImgs[start:start + num_images]
            self.categories.append(self._matches(coco_gt, cat, evals))
        #: the most detections any image has in one category (mAP counts 100 per image)
        self.most_per_image = max((int(m.rank.max()) + 1 for m in self.categories if m.rank.size), default=0)

    def _matches(self, coco_gt, cat: int, evals: list[dict | None]) -> _CategoryMatches:
        images, ranks, tps, ignores = [], [], [], []
        gt_per_image = np.zeros(len(self.image_ids), dtype=np.int64)
        for i, (img, e) in enumerate(zip(self.image_ids, evals)):
            if e is None:  # COCOeval skips an image with neither boxes nor detections; without any
                # detections file it has no matches at all, and only crowd boxes are ignored (as COCOeval)
                anns = coco_gt.loadAnns(coco_gt.getAnnIds(imgIds=[img], catIds=[cat]))
                gt_per_image[i] = sum(1 for a in anns if not a.get('iscrowd', 0))
                continue
            gt_per_image[i] = int(np.count_nonzero(np.asarray(e['gtIgnore']) == 0))
            num = len(e['dtScores'])
            images.append(np.full(num, i))
            ranks.append(np.arange(num))
            matched, ignored = np.asarray(e['dtMatches']) > 0, np.asarray(e['dtIgnore']).astype(bool)
            tps.append(matched & ~ignored)
            ignores.append(ignored)
        if not images:
            return _CategoryMatches(np.zeros(0, int), np.zeros(0, int), [np.zeros(0, int)] * self.num_thrs, None,
                                    gt_per_image)
        scores = np.concatenate([e['dtScores'] for e in evals if e is not None])
        order = np.argsort(-scores, kind='mergesort')  # COCO's order: by score, ties by image order
        tp, ignored = np.concatenate(tps, axis=1)[:, order], np.concatenate(ignores, axis=1)[:, order]
        return _CategoryMatches(np.concatenate(images)[order], np.concatenate(ranks)[order],
                                [np.flatnonzero(row) for row in tp], ignored if ignored.any() else None,
                                gt_per_image)

    def precision(self, weights: np.ndarray | None = None, max_det: int | None = None) -> np.ndarray:
        """COCO's precision at the 101 recall points, ``[T, R, K]``, -1 for a category without boxes
        (as ``COCOeval.eval['precision']`` for area 'all' and ``max_det``)."""
        weights = np.ones(len(self.image_ids), dtype=np.int64) if weights is None else np.asarray(weights)
        max_det = self.max_dets[-1] if max_det is None else max_det
        out = -np.ones((self.num_thrs, len(self.rec_thrs), len(self.categories)))
        for k, m in enumerate(self.categories):
            npig = int(weights @ m.gt_per_image)
            if npig == 0:
                continue
            weight = weights[m.image] * (m.rank < max_det)  # each detection counts this many times
            if m.tp_all.size == 0:  # no true positive at any threshold: precision 0 at every recall point
                out[:, :, k] = 0.0
                continue
            # the true positives of all thresholds in one array, threshold after threshold
            counted = np.cumsum(weight[m.tp_all], dtype=float)
            starts = np.concatenate([[0.0], counted])[m.tp_starts]
            tp = counted - np.repeat(starts, m.tp_counts)
            fp = np.cumsum(weight)[m.tp_all] - tp
            if m.ignored is not None:
                fp -= np.cumsum(weight * m.ignored, axis=1)[m.tp_thr, m.tp_all]
            prec = tp / (fp + tp + np.spacing(1))
            # monotone from the right within each threshold (COCO's backward loop): a threshold's values
            # are raised above every later threshold's, so one running maximum never crosses between them
            lift = 2.0 * (self.num_thrs - 1 - m.tp_thr)
            prec = np.maximum.accumulate((prec + lift)[::-1])[::-1] - lift
            recall = tp / npig
            for t in range(self.num_thrs):
                first, count = m.tp_starts[t], m.tp_counts[t]
                if count == 0:
                    out[t, :, k] = 0.0
                    continue
                idx = np.searchsorted(recall[first:first + count], self.rec_thrs, side='left')
                out[t, :, k] = np.where(idx < count, prec[first + np.minimum(idx, count - 1)], 0.0)
        return out

    def metrics(self, weights: np.ndarray | None = None) -> dict[str, float]:
        """mAP, mAP50 and ``AP_<class>`` as mmdet's ``CocoMetric(classwise=True)`` computes them
        (NaN where no category has boxes; a class without boxes gets no AP). A category with boxes
        has a precision at every threshold and recall point, so COCO's mean over the valid entries
        is the mean over those categories of their own means."""
        at_last = self.precision(weights)
        at_100 = self.precision(weights, max_det=100) if self.most_per_image > 100 else at_last
        valid = at_last[0, 0] > -1
        per_class = at_last.mean(axis=(0, 1))
        out = dict(mAP=_mean(at_100.mean(axis=(0, 1))[valid]), mAP50=_mean(at_last[0].mean(axis=0)[valid]))
        out.update({f'AP_{name}': float(ap) for name, ap, ok in zip(self.category_names, per_class, valid) if ok})
        return out


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float('nan')


def load_coco(gt: Any):
    """A pycocotools ``COCO`` of a ground truth (a file, a COCO dict, or already one), without its
    console chatter."""
    from pycocotools.coco import COCO
    if isinstance(gt, COCO):
        return gt
    with contextlib.redirect_stdout(io.StringIO()):
        if not isinstance(gt, dict):
            return COCO(str(gt))
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
    return coco
