"""The real COCO annotations layouts are drawn from, read once and normalised to each image's frame.

Crowd boxes and boxes of zero area (after clipping to the image) are skipped and counted in
``RealSource.skipped``; a file without images or without any usable box is an error.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..utils.io import PathLike, read_json


@dataclass(frozen=True)
class RealImage:
    """One real image's annotations: ``boxes`` normalised ``xyxy`` of the real image, ``labels`` names."""
    id: int
    file_name: str
    width: int
    height: int
    boxes: np.ndarray
    labels: np.ndarray


@dataclass(frozen=True)
class RealSource:
    """The real COCO annotations layouts are drawn from, images sorted by id (file order is irrelevant).

    ``skipped`` counts the annotations not used, by reason (``'crowd'``, ``'zero_area'``).
    """
    name: str
    images: tuple[RealImage, ...]
    skipped: dict[str, int]

    @classmethod
    def from_coco(cls, source: dict[str, Any] | PathLike) -> 'RealSource':
        name = '<COCO dict>' if isinstance(source, dict) else str(source)
        coco = source if isinstance(source, dict) else read_json(source)
        if not isinstance(coco, dict) or not {'images', 'annotations', 'categories'} <= set(coco):
            raise ValueError(f'{name}: not a COCO detection file (needs "images", "annotations", "categories")')
        if not coco['images']:
            raise ValueError(f'{name}: no images, so there is no layout to sample from')
        names = {c['id']: str(c['name']) for c in coco['categories']}
        sizes = {}
        for im in coco['images']:
            if not (im.get('width', 0) > 0 and im.get('height', 0) > 0):
                raise ValueError(f'{name}: image id {im.get("id")} needs a positive width and height')
            sizes[im['id']] = (im['width'], im['height'])
        per_image: dict[Any, list[tuple[list[float], str]]] = {i: [] for i in sizes}
        skipped: Counter[str] = Counter()
        for ann in coco['annotations']:
            if ann['image_id'] not in sizes:
                raise ValueError(f'{name}: annotation {ann.get("id")} refers to unknown image id '
                                 f'{ann["image_id"]}')
            if ann['category_id'] not in names:
                raise ValueError(f'{name}: annotation {ann.get("id")} has unknown category id '
                                 f'{ann["category_id"]}')
            if ann.get('iscrowd', 0):
                skipped['crowd'] += 1
                continue
            w, h = sizes[ann['image_id']]
            x, y, bw, bh = (float(v) for v in ann['bbox'])
            box = [min(max(x, 0.0), w) / w, min(max(y, 0.0), h) / h,
                   min(max(x + bw, 0.0), w) / w, min(max(y + bh, 0.0), h) / h]
            if box[2] <= box[0] or box[3] <= box[1]:
                skipped['zero_area'] += 1
                continue
            per_image[ann['image_id']].append((box, names[ann['category_id']]))
        if not any(per_image.values()):
            raise ValueError(f'{name}: none of its {len(sizes)} images has a usable box '
                             f'(skipped: {dict(skipped) or "none"}), so there is no layout to sample from')
        images = tuple(
            RealImage(id=im['id'], file_name=str(im.get('file_name', '')), width=im['width'], height=im['height'],
                      boxes=np.array([b for b, _ in per_image[im['id']]], dtype=np.float64).reshape(-1, 4),
                      labels=np.array([n for _, n in per_image[im['id']]], dtype=object))
            for im in sorted(coco['images'], key=lambda im: im['id']))
        return cls(name=name, images=images, skipped=dict(skipped))
