"""Copy-paste generator: real object crops pasted into clean real backgrounds, no diffusion model.

In:  layouts (boxes + class names + image size) and one seed per layout; at construction a COCO
     annotation file and image root of the real images.
Out: one :class:`~.base.GeneratedImage` per layout whose every layout box is filled by a real crop
     of the box's class, so the layout boxes are exact annotations of the image.

This is the offline baseline that diffusion generators are compared against, and what runs on a CPU.
Each image is a pure function of (layout, seed, settings): its rng draws, in order, the background
(:class:`~.backgrounds.BackgroundBank`), then per box in layout order a crop
(:class:`~.crops.ObjectCropBank`) and a horizontal flip.

Occlusion: boxes are pasted largest first (:func:`paste_order`), so a small object overlapping a
large one stays visible on top instead of being buried under a box that would still annotate it.
Each crop fills its box rounded to whole pixels (:func:`pixel_box`), so the layout box is the
annotation to within half a pixel.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import cv2
import numpy as np
from PIL import Image

from ..layouts import Layout
from ..utils.io import PathLike
from .backgrounds import METHODS, BackgroundBank
from .base import BaseGenerator, GeneratedImage
from .crops import ObjectCrop, ObjectCropBank, coco_fingerprint, as_coco

BLENDS = ('gaussian', 'none')


def pixel_box(box: Sequence[float], width: int, height: int) -> tuple[int, int, int, int]:
    """Integer ``xyxy`` pixels of a float pixel box: rounded, at least 1 px, inside the image."""
    x0, y0, x1, y1 = (int(math.floor(v + 0.5)) for v in box)
    x0, y0 = min(max(x0, 0), width - 1), min(max(y0, 0), height - 1)
    return x0, y0, min(max(x1, x0 + 1), width), min(max(y1, y0 + 1), height)


def paste_order(boxes: Sequence[tuple[int, int, int, int]]) -> list[int]:
    """Indices of ``xyxy`` boxes, largest area first (stable), i.e. the order to paste them in."""
    return sorted(range(len(boxes)), key=lambda k: -(boxes[k][2] - boxes[k][0]) * (boxes[k][3] - boxes[k][1]))


def fit_crop(crop: ObjectCrop, width: int, height: int, flip: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """The crop's RGB pixels (and mask as float in [0, 1], if any) resized to ``width x height``."""
    image = crop.image.resize((width, height), Image.Resampling.LANCZOS)
    mask = None
    if crop.mask is not None:
        mask_img = Image.fromarray(crop.mask.astype(np.uint8) * 255).resize((width, height), Image.Resampling.BILINEAR)
        mask = np.asarray(mask_img, np.float32) / 255
    if flip:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        mask = None if mask is None else mask[:, ::-1].copy()
    return np.asarray(image), mask


def paste_alpha(height: int, width: int, mask: np.ndarray | None = None, feather: float = 0.1,
                blend: str = 'gaussian') -> np.ndarray:
    """Float32 ``(H, W)`` opacity of a pasted crop.

    ``'none'``: 1 on the object (the whole box without a mask): a hard paste. ``'gaussian'``: without a
    mask, ~0 at the box border rising to ~1 at ``feather`` x the shorter box side inside it (a
    rectangle shrunk by half that, blurred with sigma a quarter of it), so the crop's own background
    fades into the new one and no rectangle outline shows; with a mask, the mask edge blurred as much.
    """
    if blend not in BLENDS:
        raise ValueError(f'blend must be one of {BLENDS}, got {blend!r}')
    ramp = feather * min(height, width)
    if mask is None:
        base = np.zeros((height, width), np.float32)
        inset = int(round(ramp / 2)) if blend == 'gaussian' else 0
        base[inset:height - inset or None, inset:width - inset or None] = 1
    else:
        base = mask.astype(np.float32)
    if blend == 'none' or ramp < 1:
        return base
    return cv2.GaussianBlur(base, (0, 0), sigmaX=ramp / 4, borderType=cv2.BORDER_CONSTANT)


def match_edge_colour(patch: np.ndarray, under: np.ndarray, ring: int) -> np.ndarray:
    """Shift ``patch`` colours so its outer ``ring`` of pixels has the median colour of ``under``.

    A tight box's border is mostly the crop's own water/sky; matching it to the background it will
    cover removes the visible rectangle when a crop comes from a differently lit camera.
    """
    edge = np.ones(patch.shape[:2], bool)
    edge[ring:-ring or None, ring:-ring or None] = False
    offset = np.median(under[edge], axis=0) - np.median(patch[edge], axis=0)
    return np.clip(patch.astype(np.float32) + offset, 0, 255)


def composite(canvas: np.ndarray, patch: np.ndarray, alpha: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """Blend ``patch`` into the float32 ``canvas`` at ``box`` (xyxy) in place with opacity ``alpha``."""
    x0, y0, x1, y1 = box
    a = alpha[..., None]
    canvas[y0:y1, x0:x1] = a * patch + (1 - a) * canvas[y0:y1, x0:x1]


class CopyPasteGenerator(BaseGenerator):
    """Paste real crops of each layout box's class into a clean real background.

    Args:
        ann_file: real COCO annotation file (or dict) the crops and backgrounds come from.
        img_root: folder such that ``img_root/file_name`` is each real image.
        background: ``'auto'``, ``'median'``, ``'inpaint'`` or ``'crop'`` (see :mod:`.backgrounds`).
        blend: ``'gaussian'`` (soft edge) or ``'none'`` (hard paste); see :func:`paste_alpha`.
        feather: width of the soft edge as a fraction of the box's shorter side.
        min_crop_size: crops with a shorter side below this (px) are not used.
        max_aspect_change: a crop is only pasted into a box whose aspect ratio is within this factor
            of its own (the closest crop otherwise), so objects are not visibly squashed.
        hflip: flip each crop horizontally with probability 0.5 (objects face both ways).
        match_colour: shift each crop's colours so its border matches the background it covers
            (:func:`match_edge_colour`).
        match_camera: when a layout names the real image it came from (``source['image_id']``), take
            the background from that image's camera.
        background_options: extra keyword arguments of :meth:`BackgroundBank.from_coco`, e.g.
            ``dict(min_frames=5, camera_threshold=0.03)``.
    """

    name = 'copy_paste'
    #: bumped whenever the same settings would give different pixels (2: 'auto' backgrounds add free crops)
    version = 2

    def __init__(self, ann_file: PathLike | dict, img_root: PathLike, background: str = 'auto',
                 blend: str = 'gaussian', feather: float = 0.1, min_crop_size: float = 4,
                 max_aspect_change: float = 1.5, hflip: bool = True, match_colour: bool = True,
                 match_camera: bool = True, background_options: dict[str, Any] | None = None) -> None:
        if blend not in BLENDS:
            raise ValueError(f'blend must be one of {BLENDS}, got {blend!r}')
        if background not in METHODS:
            raise ValueError(f'background must be one of {METHODS}, got {background!r}')
        self._coco = as_coco(ann_file)
        self.img_root = img_root
        self.settings = dict(background=background, blend=blend, feather=feather, min_crop_size=min_crop_size,
                             max_aspect_change=max_aspect_change, hflip=hflip, match_colour=match_colour,
                             match_camera=match_camera, background_options=dict(background_options or {}))
        self._crops: ObjectCropBank | None = None
        self._backgrounds: BackgroundBank | None = None

    @property
    def crop_bank(self) -> ObjectCropBank:
        """Built on first use, so :meth:`identity` stays cheap for resume checks."""
        if self._crops is None:
            self._crops = ObjectCropBank.from_coco(self._coco, self.img_root, min_size=self.settings['min_crop_size'])
        return self._crops

    @property
    def background_bank(self) -> BackgroundBank:
        if self._backgrounds is None:
            self._backgrounds = BackgroundBank.from_coco(self._coco, self.img_root, self.settings['background'],
                                                         **self.settings['background_options'])
        return self._backgrounds

    def identity(self) -> dict[str, Any]:
        return dict(name=self.name, version=self.version, **self.settings,
                    annotations_sha256=coco_fingerprint(self._coco))

    def generate(self, layouts: Sequence[Layout], seeds: Sequence[int]) -> list[GeneratedImage]:
        if len(layouts) != len(seeds):
            raise ValueError(f'{len(layouts)} layouts but {len(seeds)} seeds')
        return [self._generate_one(layout, int(seed)) for layout, seed in zip(layouts, seeds)]

    def _generate_one(self, layout: Layout, seed: int) -> GeneratedImage:
        s = self.settings
        rng = np.random.default_rng(seed)
        image_id = layout.source.get('image_id') if s['match_camera'] else None
        background, bg_record = self.background_bank.pick(rng, layout.width, layout.height, image_id)
        boxes = [pixel_box(b, layout.width, layout.height) for b in layout.pixel_boxes()]
        picks = []
        for label, (x0, y0, x1, y1) in zip(layout.labels, boxes):
            crop = self.crop_bank.pick(label, rng, aspect=(x1 - x0) / (y1 - y0),
                                       max_aspect_change=s['max_aspect_change'])
            picks.append((crop, bool(s['hflip'] and rng.random() < 0.5)))
        canvas = np.asarray(background, np.float32).copy()
        for k in paste_order(boxes):
            (x0, y0, x1, y1), (crop, flip) = boxes[k], picks[k]
            patch, mask = fit_crop(crop, x1 - x0, y1 - y0, flip)
            if s['match_colour']:
                ring = max(1, round(s['feather'] * min(x1 - x0, y1 - y0)))
                patch = match_edge_colour(patch, canvas[y0:y1, x0:x1], ring)
            composite(canvas, patch, paste_alpha(y1 - y0, x1 - x0, mask, s['feather'], s['blend']), boxes[k])
        record = dict(grounding='copy-paste', background=bg_record,
                      crops=[dict(label=c.label, image_id=c.image_id, ann_id=c.ann_id, flip=f) for c, f in picks])
        return GeneratedImage(image=Image.fromarray(np.clip(canvas + 0.5, 0, 255).astype(np.uint8)),
                              seed=seed, record=record)
