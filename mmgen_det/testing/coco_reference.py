"""pycocotools itself, as the reference the re-accumulated AP (``mmgen_det.evaluation``) is checked and
timed against: its metrics as mmdet's ``CocoMetric`` computes them, and a bootstrap resample written
out as the dataset it stands for (an image drawn k times is k copies of it, boxes and detections too).
"""
from __future__ import annotations

import contextlib
import io
from typing import Any, Sequence

from ..evaluation import load_coco
from ..evaluation.resampled_ap import MMDET_MAX_DETS


def pycocotools_metrics(gt: dict[str, Any], detections: list[dict[str, Any]]) -> dict[str, float]:
    """mAP, mAP50 and ``AP_<class>`` (classes with boxes) by pycocotools, with mmdet's ``maxDets``."""
    from pycocotools.cocoeval import COCOeval
    coco = load_coco(gt)
    with contextlib.redirect_stdout(io.StringIO()):
        ev = COCOeval(coco, coco.loadRes(detections), 'bbox')
        ev.params.catIds, ev.params.imgIds = coco.getCatIds(), coco.getImgIds()
        ev.params.maxDets = list(MMDET_MAX_DETS)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    out = dict(mAP=float(ev.stats[0]), mAP50=float(ev.stats[1]))
    for k, cat in enumerate(gt['categories']):
        p = ev.eval['precision'][:, :, k, 0, -1]
        if (p > -1).any():
            out[f"AP_{cat['name']}"] = float(p[p > -1].mean())
    return out


def repeated_images(gt: dict[str, Any], detections: list[dict[str, Any]], weights: Sequence[int]
                    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(ground truth, detections) of the split with image i copied ``weights[i]`` times."""
    boxes: dict[int, list[dict]] = {}
    found: dict[int, list[dict]] = {}
    for ann in gt['annotations']:
        boxes.setdefault(ann['image_id'], []).append(ann)
    for det in detections:
        found.setdefault(det['image_id'], []).append(det)
    images, anns, copied = [], [], []
    for image, count in zip(gt['images'], weights):
        for copy in range(count):
            new_id = image['id'] * 1000 + copy
            images.append(dict(image, id=new_id))
            anns += [dict(a, id=len(anns) + j + 1, image_id=new_id) for j, a in enumerate(boxes.get(image['id'], []))]
            copied += [dict(d, image_id=new_id) for d in found.get(image['id'], [])]
    return dict(gt, images=images, annotations=anns), copied
