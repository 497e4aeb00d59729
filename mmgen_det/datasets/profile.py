"""What a detection dataset looks like, in the few numbers its training settings depend on.

In: a COCO dict (converted real data). Out: a :class:`DataProfile`: class names in label order, frame
size, object sizes (side = sqrt of box area, in pixels of the original frame) and boxes per image.
``mmgen_det.recipes`` derives the input scale, crop and generation canvas from it; experiment reports
record it.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class DataProfile:
    classes: tuple[str, ...]
    num_images: int
    num_boxes: int
    frame_width: int        # median over images
    frame_height: int
    object_side_p10: float  # sqrt(box area), pixels of the original frame
    object_side_p50: float
    object_side_p90: float
    boxes_per_image_p50: float
    boxes_per_image_max: int
    boxes_per_class: tuple[int, ...]

    @property
    def long_side(self) -> int:
        return max(self.frame_width, self.frame_height)

    @property
    def aspect(self) -> float:
        """Width / height of the median frame."""
        return self.frame_width / self.frame_height

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def coco_classes(coco: dict) -> list[str]:
    """Class names in label order: the order of the ``categories`` list, in which mmdet's
    CocoDataset numbers labels (the converter writes it in id order)."""
    return [c['name'] for c in coco['categories']]


def boxes_per_class(coco: dict, crowd: bool = True) -> list[int]:
    """Boxes of each class in label order; ``crowd=False`` leaves out the ``iscrowd`` boxes, which
    COCO evaluation ignores."""
    order = {c['id']: i for i, c in enumerate(coco['categories'])}
    counts = [0] * len(order)
    for a in coco['annotations']:
        if crowd or not a.get('iscrowd'):
            counts[order[a['category_id']]] += 1
    return counts


def images_per_class(coco: dict) -> list[int]:
    """Images holding each class in label order, ``iscrowd`` boxes left out as COCO evaluation does:
    a test split's boxes of one class in few images say less than as many boxes spread out."""
    order = {c['id']: i for i, c in enumerate(coco['categories'])}
    holding: list[set[int]] = [set() for _ in order]
    for a in coco['annotations']:
        if not a.get('iscrowd'):
            holding[order[a['category_id']]].add(a['image_id'])
    return [len(images) for images in holding]


def profile_coco(coco: dict) -> DataProfile:
    """Profile the images and boxes of ``coco``; a dataset without images or boxes is an error."""
    if not coco['images']:
        raise ValueError('the dataset has no images')
    boxes = [a['bbox'] for a in coco['annotations'] if a['bbox'][2] > 0 and a['bbox'][3] > 0]
    if not boxes:
        raise ValueError('the dataset has no boxes: nothing to learn a detector from')
    sides = np.sqrt([w * h for _, _, w, h in boxes])
    per_image: dict[int, int] = {im['id']: 0 for im in coco['images']}
    for a in coco['annotations']:
        per_image[a['image_id']] = per_image.get(a['image_id'], 0) + 1
    counts = list(per_image.values())

    def pct(q: float) -> float:
        return round(float(np.percentile(sides, q)), 1)
    return DataProfile(
        classes=tuple(coco_classes(coco)),
        num_images=len(coco['images']),
        num_boxes=len(boxes),
        frame_width=int(np.median([im['width'] for im in coco['images']])),
        frame_height=int(np.median([im['height'] for im in coco['images']])),
        object_side_p10=pct(10), object_side_p50=pct(50), object_side_p90=pct(90),
        boxes_per_image_p50=float(np.median(counts)),
        boxes_per_image_max=int(max(counts)),
        boxes_per_class=tuple(boxes_per_class(coco)))


def round_to(value: float, multiple: int) -> int:
    """``value`` rounded to the nearest positive multiple of ``multiple``."""
    return max(multiple, int(math.floor(value / multiple + 0.5)) * multiple)
