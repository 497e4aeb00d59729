"""Real object crops per class, cut once from a COCO-annotated image set.

In:  a COCO annotation file (or dict) and the image root such that ``img_root/file_name`` is the
     image; ``min_size`` (pixels) and ``context`` (margin, as a fraction of the box size).
Out: :class:`ObjectCropBank`, whose :meth:`~ObjectCropBank.pick` draws one :class:`ObjectCrop` of a
     class with a caller-owned ``numpy.random.Generator`` (so the draw is part of the caller's seeded
     stream). Used by the copy-paste generator (pixels to paste) and by GLIGEN image grounding
     (``.image`` as the reference image of a box).

The small COCO readers here (:func:`as_coco`, :func:`coco_fingerprint`, :func:`open_rgb`) are shared
with :mod:`.backgrounds` so both banks read the real set the same way.
"""
from __future__ import annotations

import hashlib
import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Union

import numpy as np
from PIL import Image, ImageOps

from ..utils.io import PathLike, read_json, safe_join

CocoLike = Union[PathLike, dict]


def as_coco(ann: CocoLike) -> dict:
    """A COCO dict from a file path or an already-loaded dict (returned as is)."""
    return ann if isinstance(ann, dict) else read_json(ann)


def coco_fingerprint(coco: dict) -> str:
    """SHA-256 of the parts of a COCO dict that decide what is cut from it.

    Only ``images``, ``annotations`` and ``categories`` count (not ``info``/``licenses``), so
    re-exporting the same subset keeps the fingerprint while adding or removing one box changes it.
    """
    content = {k: coco.get(k, []) for k in ('images', 'annotations', 'categories')}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def open_rgb(path: PathLike, size: tuple[int, int] | None = None) -> Image.Image:
    """Open an image as upright RGB (grayscale, palette and RGBA sources included).

    ``size`` is the ``(width, height)`` the annotation file declares: boxes are drawn on the upright
    (EXIF-transposed) image, unless only the raw orientation matches the declared size (a file
    annotated before EXIF handling), in which case the raw one is used. Neither matching is an error,
    because every box would land in the wrong place.
    """
    with Image.open(path) as raw:
        raw.load()
        upright = ImageOps.exif_transpose(raw)
        if size is not None and upright.size != tuple(size):
            if raw.size != tuple(size):
                raise ValueError(f'{path}: image is {upright.size[0]}x{upright.size[1]} but the annotation '
                                 f'file says {size[0]}x{size[1]}; re-export the annotations for these images')
            upright = raw
        return upright.convert('RGB')


def _declared_size(image: dict) -> tuple[int, int] | None:
    return (int(image['width']), int(image['height'])) if 'width' in image and 'height' in image else None


def crop_region(bbox: Any, context: float, width: int, height: int) -> tuple[int, int, int, int]:
    """Integer pixel ``xyxy`` covering COCO ``bbox`` (xywh) plus ``context`` x its size per side.

    The region rounds outwards (no object pixel is lost) and is clipped to the image.
    """
    x, y, w, h = (float(v) for v in bbox)
    mx, my = context * w, context * h
    x0, y0 = max(0, math.floor(x - mx)), max(0, math.floor(y - my))
    x1, y1 = min(width, math.ceil(x + w + mx)), min(height, math.ceil(y + h + my))
    return x0, y0, x1, y1


def _segmentation_mask(ann: dict, height: int, width: int) -> np.ndarray | None:
    """The instance mask of ``ann`` over its whole image, or None without a segmentation."""
    seg = ann.get('segmentation')
    if not seg:
        return None
    from pycocotools import mask as mask_utils  # only needed for sets with masks
    if isinstance(seg, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(seg, height, width))
    elif isinstance(seg.get('counts'), list):
        rle = mask_utils.frPyObjects(seg, height, width)
    else:
        rle = seg
    return mask_utils.decode(rle).astype(bool)


@dataclass(kw_only=True)
class ObjectCrop:
    """One real object cut out of its source image.

    Attributes:
        image: RGB pixels of the crop region.
        mask: ``(H, W)`` bool instance mask over ``image`` when the annotation has a segmentation,
            else None (the object is then the whole crop).
        label: category name.
        image_id, ann_id: where it came from in the annotation file (for generation records).
        bbox: the object's COCO ``xywh`` box in its source image.
    """
    image: Image.Image
    mask: np.ndarray | None = None
    label: str
    image_id: int
    ann_id: int
    bbox: tuple[float, float, float, float]

    @property
    def aspect(self) -> float:
        """Width / height of the crop, used to match crops to boxes without distorting them."""
        return self.image.width / self.image.height


class ObjectCropBank:
    """Real object crops grouped by class name.

    Args:
        crops: ``{class name: [ObjectCrop, ...]}``; every class of the annotation file appears, even
            with no usable crop, so that :meth:`pick` can say why it has none.
        too_small: ``{class name: number of boxes dropped for being smaller than min_size}``.
        min_size: the threshold that was used, quoted in error messages.
    """

    def __init__(self, crops: dict[str, list[ObjectCrop]], too_small: dict[str, int] | None = None,
                 min_size: float = 0) -> None:
        self._crops = crops
        self.too_small = dict(too_small or {})
        self.min_size = min_size

    @classmethod
    def from_coco(cls, ann_file_or_dict: CocoLike, img_root: PathLike, min_size: float = 4,
                  context: float = 0.0) -> 'ObjectCropBank':
        """Cut every usable box of a COCO set; each source image is decoded once.

        Boxes whose shorter side is below ``min_size`` pixels are skipped and counted (they would be
        mostly interpolation when resized to a larger box), as are ``iscrowd`` regions, which are not
        single objects.
        """
        coco = as_coco(ann_file_or_dict)
        names = {c['id']: str(c['name']) for c in sorted(coco.get('categories', []), key=lambda c: c['id'])}
        crops: dict[str, list[ObjectCrop]] = {name: [] for name in names.values()}
        too_small: Counter[str] = Counter()
        per_image: dict[int, list[dict]] = defaultdict(list)
        for ann in sorted(coco.get('annotations', []), key=lambda a: a['id']):
            if ann['category_id'] not in names:
                raise ValueError(f'annotation {ann["id"]} has unknown category_id {ann["category_id"]}')
            if ann.get('iscrowd', 0):
                continue
            if min(float(ann['bbox'][2]), float(ann['bbox'][3])) < min_size:
                too_small[names[ann['category_id']]] += 1
                continue
            per_image[ann['image_id']].append(ann)
        images = {im['id']: im for im in coco.get('images', [])}
        for image_id in sorted(per_image):
            if image_id not in images:
                raise ValueError(f'annotation {per_image[image_id][0]["id"]} refers to unknown image id {image_id}')
            info = images[image_id]
            source = open_rgb(safe_join(img_root, info['file_name']), _declared_size(info))
            for ann in per_image[image_id]:
                crops[names[ann['category_id']]].append(
                    _cut(source, ann, names[ann['category_id']], context))
        return cls(crops, dict(too_small), min_size)

    @property
    def classes(self) -> list[str]:
        """All class names of the annotation file, in category id order."""
        return list(self._crops)

    def crops(self, label: str) -> list[ObjectCrop]:
        """The usable crops of ``label`` (possibly empty); unknown labels raise KeyError."""
        if label not in self._crops:
            raise KeyError(f'unknown class {label!r}; the crop bank knows {self.classes}')
        return self._crops[label]

    def pick(self, label: str, rng: np.random.Generator, aspect: float | None = None,
             max_aspect_change: float = 1.5) -> ObjectCrop:
        """Draw one crop of ``label`` with ``rng``.

        With ``aspect`` (target width / height), only crops whose aspect is within a factor
        ``max_aspect_change`` of it are candidates (the closest one if none is), so that resizing the
        crop to the target box does not visibly squash the object.
        """
        pool = self.crops(label)
        if not pool:
            raise ValueError(f'class {label!r} has no usable crops: {self.too_small.get(label, 0)} of its boxes '
                             f'were smaller than min_size={self.min_size} px (lower min_size, or drop the class)')
        if aspect is not None:
            change = np.array([abs(math.log(c.aspect / aspect)) for c in pool])
            ok = np.flatnonzero(change <= math.log(max_aspect_change))
            pool = [pool[i] for i in ok] if len(ok) else [pool[int(np.argmin(change))]]
        return pool[int(rng.integers(len(pool)))]

    def __repr__(self) -> str:
        counts = {k: len(v) for k, v in self._crops.items()}
        return f'{type(self).__name__}(crops={counts}, too_small={self.too_small})'


def _cut(source: Image.Image, ann: dict, label: str, context: float) -> ObjectCrop:
    """One :class:`ObjectCrop` of ``ann`` from its decoded source image."""
    region = crop_region(ann['bbox'], context, source.width, source.height)
    if region[2] <= region[0] or region[3] <= region[1]:
        raise ValueError(f'annotation {ann["id"]}: bbox {ann["bbox"]} lies outside its '
                         f'{source.width}x{source.height} image')
    full_mask = _segmentation_mask(ann, source.height, source.width)
    mask = None if full_mask is None else full_mask[region[1]:region[3], region[0]:region[2]].copy()
    image = source.crop(region)
    image.info['crop_id'] = int(ann['id'])  # lets consumers of the bare image record its origin
    return ObjectCrop(image=image, mask=mask, label=label, image_id=int(ann['image_id']),
                      ann_id=int(ann['id']), bbox=tuple(float(v) for v in ann['bbox']))
