"""What the gallery page shows, as one JSON-able dict (pure: COCO dicts in, no file is read).

In: a synthetic set's COCO dict (layout boxes, ``generation`` records, stored ``pr_filter`` and
``feature_distance`` scores) and, optionally, the real annotations its layouts came from. Out: per
image its boxes, every stored score (with the filter detector's detections where they were stored)
and its generation record; per class the real boxes' sizes; the boxes to cut out as crops. Scores
are exported unrounded: the page applies the keep rule (its JavaScript port of
:func:`~mmgen_det.generation.set_format.kept_ids`) to them, and a rounded value could fall on the other
side of a threshold.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..generation.set_format import FEATURE_DISTANCE_KEY, GENERATION_KEY, PR_FILTER_KEY

CROPS_PER_CLASS = 10
JS_MAX_SAFE_INTEGER = 2 ** 53 - 1


@dataclass(frozen=True)
class Crop:
    """A box to cut out for a class's strip: from image ``image`` (a set image id or a real file name)."""
    image: int | str
    box: tuple[float, float, float, float]
    label: int


def class_names(coco: dict[str, Any]) -> list[str]:
    """Class names in the file's category order: label ``i`` of the page is ``names[i]``."""
    return [c['name'] for c in coco['categories']]


def boxes_by_image(coco: dict[str, Any], names: Sequence[str]) -> dict[Any, list[list[float]]]:
    """image id -> ``[x, y, w, h, label]`` per annotation of a class in ``names`` (others ignored)."""
    label_of_cat = {c['id']: names.index(c['name']) for c in coco['categories'] if c['name'] in names}
    out: dict[Any, list[list[float]]] = {im['id']: [] for im in coco['images']}
    for ann in coco['annotations']:
        label = label_of_cat.get(ann['category_id'])
        if label is not None and ann['image_id'] in out:
            out[ann['image_id']].append([*ann['bbox'], label])
    return out


def js_safe(value: Any) -> Any:
    """``value`` with integers JavaScript cannot hold exactly (64-bit seeds) as strings."""
    if isinstance(value, dict):
        return {k: js_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [js_safe(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > JS_MAX_SAFE_INTEGER:
        return str(value)
    return value


def detection_boxes(detections: dict[str, list]) -> list[list[Any]]:
    """The stored detections, one row each as the page reads them, values as stored:
    ``[x1, y1, x2, y2, class name, score, layout box index or -1]``."""
    return [[*bbox, name, score, box] for bbox, name, score, box
            in zip(detections['bboxes'], detections['classes'], detections['scores'], detections['layout_box'])]


def pr_entry(record: dict[str, Any]) -> dict[str, Any]:
    """What the page reads of a stored PR record (``p``/``r`` exactly as stored; ``dets`` only where
    the record has detections: older records and undecodable images have none)."""
    entry = dict(p=record['precision'], r=record['recall'], det=record.get('num_detections'),
                 matches=record.get('matches', []))
    if 'detections' in record:
        entry['dets'] = detection_boxes(record['detections'])
    if 'error' in record:
        entry['error'] = record['error']
    return entry


def image_entry(image: dict[str, Any], boxes: list[list[float]], file_url: str, thumb: str) -> dict[str, Any]:
    return dict(id=image['id'], file=file_url, thumb=thumb, w=image['width'], h=image['height'], boxes=boxes,
                pr={key: pr_entry(rec) for key, rec in image.get(PR_FILTER_KEY, {}).items()},
                fd={key: rec.get('distance') for key, rec in image.get(FEATURE_DISTANCE_KEY, {}).items()},
                gen=js_safe(image.get(GENERATION_KEY, {})))


def scorer_info(coco: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per stored PR key, the detector and matching thresholds (from the first image scored under it)."""
    info: dict[str, dict[str, Any]] = {}
    for image in coco['images']:
        for key, record in image.get(PR_FILTER_KEY, {}).items():
            info.setdefault(key, dict(detector=record.get('detector', {}), thresholds=record.get('thresholds', {})))
    return info


def stored_keys(coco: dict[str, Any], field: str) -> list[str]:
    return sorted({key for image in coco['images'] for key in image.get(field, {})})


def real_summary(real: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """Real boxes per class (sizes as ``sqrt(w h)`` px) and the real classes the set does not have."""
    sizes: list[list[float]] = [[] for _ in names]
    for boxes in boxes_by_image(real, names).values():
        for x, y, w, h, label in boxes:
            sizes[int(label)].append(math.sqrt(max(w * h, 0.0)))
    return dict(num_images=len(real['images']), sizes=sizes,
                other_classes=[n for n in class_names(real) if n not in names])


def referenced_frames(coco: dict[str, Any]) -> set[int]:
    """Real image ids the generation records name: each layout's source frame, each background's frames."""
    ids = set()
    for image in coco['images']:
        gen = image.get(GENERATION_KEY, {})
        if 'image_id' in gen.get('layout_source', {}):
            ids.add(gen['layout_source']['image_id'])
        ids.update(gen.get('background', {}).get('image_ids', []))
    return ids


def pick_crops(boxes: dict[Any, list[list[float]]], num_classes: int, per_class: int = CROPS_PER_CLASS,
               seed: int = 0) -> list[Crop]:
    """Up to ``per_class`` boxes of each class, drawn at random (seeded) from all images."""
    by_class: list[list[Crop]] = [[] for _ in range(num_classes)]
    for image, image_boxes in boxes.items():
        for x, y, w, h, label in image_boxes:
            if w >= 1 and h >= 1:
                by_class[int(label)].append(Crop(image, (x, y, w, h), int(label)))
    rng = np.random.default_rng(seed)
    picked = []
    for crops in by_class:
        chosen = rng.choice(len(crops), size=min(per_class, len(crops)), replace=False) if crops else []
        picked += [crops[i] for i in sorted(chosen)]
    return picked
