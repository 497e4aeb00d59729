"""Copy-paste generator: real object crops pasted into clean real backgrounds, no diffusion model.

In:  layouts (boxes + class names + image size) and one seed per layout; at construction a COCO
     annotation file and image root of the real images.
Out: one :class:`~.base.GeneratedImage` per layout whose every layout box is filled by a real crop
     of the box's class, so the layout boxes are exact annotations of the image (with per-instance
     scale, rotation or truncation, the boxes of the returned ``layout`` are).

This is the offline baseline that diffusion generators are compared against, and what runs on a CPU.
Each image is a pure function of (layout, seed, settings): its rng draws, in order, the background
(:class:`~.backgrounds.BackgroundBank`), then per box in layout order a crop
(:class:`~.crops.ObjectCropBank`) and a horizontal flip.

Occlusion: boxes are pasted largest first (:func:`paste_order`), so a small object overlapping a
large one stays visible on top instead of being buried under a box that would still annotate it.
Each crop fills its box rounded to whole pixels (:func:`pixel_box`), so the layout box is the
annotation to within half a pixel.

``appearance`` (:mod:`.appearance`) and a list of ``blend`` names add what the real crops lack: colour,
blur, scale, rotation, truncation, one blend drawn per paste and a background colour shift. Their
values come from a second generator of the same seed, ``default_rng([seed, 1])``, so the draws
above, and the pixels of a set made without them, stay what they were. When instances can move
(scale, rotation, truncation), each box becomes the tight box of its pasted object pixels that lie in
the image (:func:`tight_box`), returned as :attr:`~.base.GeneratedImage.layout`; a later paste that
covers part of an object does not shrink its box, as before.

``background='scene'`` pastes into a real frame as it is and keeps its labelled objects: the returned
layout is the pasted boxes followed by the frame's boxes that stay visible (:func:`visible_boxes`).
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Sequence

import cv2
import numpy as np
from PIL import Image

from ..layouts import Layout
from ..utils.io import PathLike
from .appearance import (AUTO_KEYS, Appearance, Look, apply_blur, apply_colour, auto_colour_ranges,
                         line_kernel, rotate, rounded)
from .backgrounds import METHODS, BackgroundBank
from .base import BaseGenerator, GeneratedImage
from .crops import ObjectCrop, ObjectCropBank, coco_fingerprint, as_coco

#: how a crop meets the background: 'gaussian' (soft edge), 'none' (hard), 'poisson' (gradient domain,
#: :func:`poisson_composite`), 'motion' (an edge smeared along one direction)
BLENDS = ('gaussian', 'none', 'poisson', 'motion')
#: the blends that are an opacity (:func:`paste_alpha`)
ALPHA_BLENDS = ('gaussian', 'none', 'motion')
#: px: cv2.seamlessClone keeps the source's gradients only inside its mask eroded by 3 px, and a forward
#: difference reaches 1 px further
POISSON_MARGIN = 4
Box = tuple[int, int, int, int]  # integer xyxy pixels


def blend_names(blend: str | Sequence[str]) -> tuple[str, ...]:
    """The blends one paste is drawn from: a single name is every paste's."""
    names = (blend,) if isinstance(blend, str) else tuple(blend) if isinstance(blend, Sequence) else ()
    if not names or any(name not in BLENDS for name in names):
        raise ValueError(f'blend must be one of {BLENDS} or a list of them (one is drawn per paste), '
                         f'got {blend!r}')
    return names


def pixel_box(box: Sequence[float], width: int, height: int) -> Box:
    """Integer ``xyxy`` pixels of a float pixel box: rounded, at least 1 px, inside the image."""
    x0, y0, x1, y1 = (int(math.floor(v + 0.5)) for v in box)
    x0, y0 = min(max(x0, 0), width - 1), min(max(y0, 0), height - 1)
    return x0, y0, min(max(x1, x0 + 1), width), min(max(y1, y0 + 1), height)


def paste_order(boxes: Sequence[Box]) -> list[int]:
    """Indices of ``xyxy`` boxes, largest area first (stable), i.e. the order to paste them in."""
    return sorted(range(len(boxes)), key=lambda k: -(boxes[k][2] - boxes[k][0]) * (boxes[k][3] - boxes[k][1]))


def fit_crop(crop: ObjectCrop, width: int, height: int,
             flip: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """The crop's RGB pixels (and mask as float in [0, 1], if any) resized to ``width x height``."""
    image = crop.image.resize((width, height), Image.Resampling.LANCZOS)
    mask = None
    if crop.mask is not None:
        mask_img = Image.fromarray(crop.mask.astype(np.uint8) * 255).resize((width, height),
                                                                            Image.Resampling.BILINEAR)
        mask = np.asarray(mask_img, np.float32) / 255
    if flip:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        mask = None if mask is None else mask[:, ::-1].copy()
    return np.asarray(image), mask


def paste_alpha(height: int, width: int, mask: np.ndarray | None = None, feather: float = 0.1,
                blend: str = 'gaussian', angle: float = 0.0) -> np.ndarray:
    """Float32 ``(H, W)`` opacity of a pasted crop.

    ``'none'``: 1 on the object (the whole box without a mask): a hard paste. ``'gaussian'``: without a
    mask, ~0 at the box border rising to ~1 at ``feather`` x the shorter box side inside it (a
    rectangle shrunk by half that, blurred with sigma a quarter of it), so the crop's own background
    fades into the new one and no rectangle outline shows; with a mask, the mask edge blurred as much.
    ``'motion'``: the same shape smeared along ``angle`` degrees over a line as long as that ramp, as a
    moving object's edge is.
    """
    if blend not in ALPHA_BLENDS:
        raise ValueError(f'blend must be one of {ALPHA_BLENDS} for an opacity, got {blend!r} '
                         "('poisson' blends gradients: poisson_composite)")
    ramp = feather * min(height, width)
    if mask is None:
        base = np.zeros((height, width), np.float32)
        inset = int(round(ramp / 2)) if blend != 'none' else 0
        base[inset:height - inset or None, inset:width - inset or None] = 1
    else:
        base = mask.astype(np.float32)
    if blend == 'none' or ramp < 1:
        return base
    if blend == 'motion':
        kernel = line_kernel(max(3, int(round(ramp)) | 1), angle)
        return cv2.filter2D(base, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    return cv2.GaussianBlur(base, (0, 0), sigmaX=ramp / 4, borderType=cv2.BORDER_CONSTANT)


def match_edge_colour(patch: np.ndarray, under: np.ndarray, ring: int,
                      edge: np.ndarray | None = None) -> np.ndarray:
    """Shift ``patch`` colours so its outer ``ring`` of pixels has the median colour of ``under``.

    A tight box's border is mostly the crop's own water/sky; matching it to the background it will
    cover removes the visible rectangle when a crop comes from a differently lit camera. ``edge`` (bool)
    names the border pixels instead, e.g. those of a rotated object (:func:`object_edge`).
    """
    if edge is None:
        edge = np.ones(patch.shape[:2], bool)
        edge[ring:-ring or None, ring:-ring or None] = False
    offset = np.median(under[edge], axis=0) - np.median(patch[edge], axis=0)
    return np.clip(patch.astype(np.float32) + offset, 0, 255)


def object_edge(support: np.ndarray, ring: int) -> np.ndarray:
    """Bool mask of the object pixels (``support > 0.5``) within ``ring`` px of its outline."""
    inside = (support > 0.5).astype(np.uint8)
    core = cv2.erode(inside, np.ones((2 * ring + 1, 2 * ring + 1), np.uint8), borderType=cv2.BORDER_CONSTANT,
                     borderValue=0)
    return inside > core


def composite(canvas: np.ndarray, patch: np.ndarray, alpha: np.ndarray, box: Box) -> None:
    """Blend ``patch`` into the float32 ``canvas`` at ``box`` (xyxy) in place with opacity ``alpha``."""
    x0, y0, x1, y1 = box
    a = alpha[..., None]
    canvas[y0:y1, x0:x1] = a * patch + (1 - a) * canvas[y0:y1, x0:x1]


def poisson_composite(canvas: np.ndarray, patch: np.ndarray, support: np.ndarray, box: Box) -> None:
    """Blend ``patch`` into the float32 ``canvas`` at ``box`` (xyxy, inside it) in the gradient domain.

    ``cv2.seamlessClone`` (``NORMAL_CLONE``) keeps the patch's gradients on the object (``support``) and
    solves for colours that meet the canvas around it, so a crop shot under other light takes the new
    scene's. Its mask is the object grown by :data:`POISSON_MARGIN` px (OpenCV erodes it that much
    before it keeps the source's gradients) over a patch whose edge pixels are repeated outwards (no
    gradient, so no rectangle), and the frame is padded so that a mask at the image border works too.
    Only background gradients are kept in the margin, so no object pixel lands outside its support.
    """
    x0, y0, x1, y1 = box
    m, pad = POISSON_MARGIN, POISSON_MARGIN + 1
    dst = cv2.copyMakeBorder(np.clip(canvas + 0.5, 0, 255).astype(np.uint8), pad, pad, pad, pad,
                             cv2.BORDER_REPLICATE)
    src = dst.copy()
    src[y0 + pad - m:y1 + pad + m, x0 + pad - m:x1 + pad + m] = cv2.copyMakeBorder(
        np.clip(patch + 0.5, 0, 255).astype(np.uint8), m, m, m, m, cv2.BORDER_REPLICATE)
    mask = np.zeros(dst.shape[:2], np.uint8)
    mask[y0 + pad:y1 + pad, x0 + pad:x1 + pad] = support > 0.5
    mask = cv2.dilate(mask, np.ones((2 * m + 1, 2 * m + 1), np.uint8))
    bx, by, bw, bh = cv2.boundingRect(mask)
    if bw == 0:
        return
    cloned = cv2.seamlessClone(src, dst, mask * 255, (bx + bw // 2, by + bh // 2), cv2.NORMAL_CLONE)
    keep = mask[pad:-pad, pad:-pad] > 0
    canvas[keep] = cloned[pad:-pad, pad:-pad][keep]


def tight_box(support: np.ndarray) -> Box | None:
    """Integer ``xyxy`` of the pixels where the object shows (``support > 0.5``, or above half its peak
    for an object thinner than a pixel once rotated); None where it shows nowhere."""
    ys, xs = np.nonzero(support > min(0.5, float(support.max()) / 2))
    if not len(xs):
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def truncate(window: Box, box: Box, visible: float, width: int, height: int) -> Box:
    """``window`` moved so that the object ``box`` in it (both xyxy, image px) crosses the image border
    nearest to it until ``visible`` of its extent across that border (at least 1 px) is inside."""
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    side = int(np.argmin([cx, width - cx, cy, height - cy]))  # left, right, top, bottom
    extent = x1 - x0 if side < 2 else y1 - y0
    keep = max(1, int(round(visible * extent)))
    dx, dy = [(keep - x1, 0), (width - keep - x0, 0), (0, keep - y1), (0, height - keep - y0)][side]
    return window[0] + dx, window[1] + dy, window[2] + dx, window[3] + dy


def visible_boxes(boxes: np.ndarray, cover: np.ndarray, min_visible: float) -> tuple[np.ndarray, np.ndarray]:
    """What is left of a scene's own objects once objects are pasted over them.

    Args:
        boxes: ``(K, 4)`` pixel ``xyxy`` boxes of the objects under the pastes.
        cover: bool ``(H, W)``, True where a pasted object shows.
        min_visible: an object whose box is visible on less than this fraction is dropped: mostly
            hidden, it would teach the detector a box around another object.

    Returns:
        ``(kept, keep)``: the kept boxes, each shrunk to the visible pixels of its box (a paste over
        one side moves that side; one in the middle leaves the box as it was), and the bool mask of
        which input boxes were kept.
    """
    kept, keep = [], np.zeros(len(boxes), bool)
    for k, box in enumerate(boxes):
        x0, y0, x1, y1 = pixel_box(box, cover.shape[1], cover.shape[0])
        shown = ~cover[y0:y1, x0:x1]
        if shown.mean() < min_visible:
            continue
        vx0, vy0, vx1, vy1 = tight_box(shown.astype(np.float32))
        h, w = shown.shape
        kept.append((box[0] if vx0 == 0 else x0 + vx0, box[1] if vy0 == 0 else y0 + vy0,
                     box[2] if vx1 == w else x0 + vx1, box[3] if vy1 == h else y0 + vy1))
        keep[k] = True
    return np.array(kept, np.float64).reshape(-1, 4), keep


def place(patch: np.ndarray, support: np.ndarray, alpha: np.ndarray, box: Box, look: Look, ring: int,
          shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Box]:
    """Rotate a (scaled) instance, centre it on its layout ``box`` and truncate it as ``look`` says.

    Returns its ``patch``, ``support`` and ``alpha`` cut to the part inside the image of ``shape``
    (height, width), the object's outline there (the ``ring`` px inside its edge, for
    :func:`match_edge_colour`; not where the image border cuts it), and that part's ``xyxy`` window.
    """
    height, width = shape
    if look.angle:
        patch, support, alpha = rotate(patch, support, alpha, look.angle)
    ph, pw = support.shape
    left = int(math.floor((box[0] + box[2]) / 2 - pw / 2 + 0.5))
    top = int(math.floor((box[1] + box[3]) / 2 - ph / 2 + 0.5))
    window = (left, top, left + pw, top + ph)
    if look.visible < 1:
        ox0, oy0, ox1, oy1 = tight_box(support)
        window = truncate(window, (left + ox0, top + oy0, left + ox1, top + oy1), look.visible, width, height)
    x0, y0, x1, y1 = max(window[0], 0), max(window[1], 0), min(window[2], width), min(window[3], height)
    cut = (slice(y0 - window[1], y1 - window[1]), slice(x0 - window[0], x1 - window[0]))
    edge = object_edge(support, ring)
    return patch[cut], support[cut], alpha[cut], edge[cut], (x0, y0, x1, y1)


class CopyPasteGenerator(BaseGenerator):
    """Paste real crops of each layout box's class into a clean real background.

    Args:
        ann_file: real COCO annotation file (or dict) the crops and backgrounds come from.
        img_root: folder such that ``img_root/file_name`` is each real image.
        background: ``'auto'``, ``'median'``, ``'inpaint'``, ``'crop'`` or ``'scene'`` (see
            :mod:`.backgrounds`).
        blend: one of :data:`BLENDS` for every paste, or a list of them, one drawn per paste (Cut, Paste
            and Learn mixes blends so that a detector cannot learn any one blend's seam); see
            :func:`paste_alpha` and :func:`poisson_composite`.
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
        appearance: what to vary per pasted instance and per background (colour, blur, scale,
            rotation, truncation): the keys of :class:`~.appearance.Appearance`; all off by default.
        scene_min_visible: with ``background='scene'``, the fraction of a frame object's box that must
            stay visible for it to stay annotated (:func:`visible_boxes`).
    """

    name = 'copy_paste'
    #: bumped whenever the same settings would give different pixels (2: 'auto' backgrounds add free crops)
    version = 2

    def __init__(self, ann_file: PathLike | dict, img_root: PathLike, background: str = 'auto',
                 blend: str | Sequence[str] = 'gaussian', feather: float = 0.1, min_crop_size: float = 4,
                 max_aspect_change: float = 1.5, hflip: bool = True, match_colour: bool = True,
                 match_camera: bool = True, background_options: dict[str, Any] | None = None,
                 appearance: dict[str, Any] | None = None, scene_min_visible: float = 0.5) -> None:
        self.blends = blend_names(blend)
        if background not in METHODS:
            raise ValueError(f'background must be one of {METHODS}, got {background!r}')
        if not 0 < scene_min_visible <= 1:
            raise ValueError(f'scene_min_visible must be in (0, 1], got {scene_min_visible!r}')
        self.appearance = Appearance.from_config(appearance)
        self._coco = as_coco(ann_file)
        self.img_root = img_root
        self.settings = dict(background=background,
                             blend=blend if isinstance(blend, str) else list(self.blends),
                             feather=feather, min_crop_size=min_crop_size,
                             max_aspect_change=max_aspect_change, hflip=hflip, match_colour=match_colour,
                             match_camera=match_camera, background_options=dict(background_options or {}))
        if self.appearance.active:  # absent when off: sets made before it existed keep their identity
            self.settings['appearance'] = self.appearance.to_dict()
        if background == 'scene':  # likewise
            self.settings['scene_min_visible'] = scene_min_visible
        self._crops: ObjectCropBank | None = None
        self._backgrounds: BackgroundBank | None = None
        self._looks: Appearance | None = None

    @classmethod
    def pixel_settings(cls, cfg: dict[str, Any]) -> dict[str, Any]:
        """The config, with ``blend`` and ``appearance`` checked (before any image is made) and written
        as they are recorded."""
        cfg = dict(cfg)
        if 'blend' in cfg:
            names = blend_names(cfg['blend'])
            cfg['blend'] = cfg['blend'] if isinstance(cfg['blend'], str) else list(names)
        if 'appearance' in cfg:
            cfg['appearance'] = Appearance.from_config(cfg['appearance']).to_dict()
        return cfg

    @property
    def crop_bank(self) -> ObjectCropBank:
        """Built on first use, so :meth:`identity` stays cheap for resume checks."""
        if self._crops is None:
            self._crops = ObjectCropBank.from_coco(self._coco, self.img_root,
                                                   min_size=self.settings['min_crop_size'])
        return self._crops

    @property
    def background_bank(self) -> BackgroundBank:
        if self._backgrounds is None:
            self._backgrounds = BackgroundBank.from_coco(self._coco, self.img_root,
                                                         self.settings['background'],
                                                         **self.settings['background_options'])
        return self._backgrounds

    @property
    def looks(self) -> Appearance:
        """``appearance`` with its ``'auto'`` colour ranges measured on the crop bank (on first use)."""
        if self._looks is None:
            colour = self.appearance.colour
            if colour.has_auto:
                bank = self.crop_bank
                colour = colour.resolve(auto_colour_ranges(c for k in bank.classes for c in bank.crops(k)))
            self._looks = replace(self.appearance, colour=colour)
        return self._looks

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
        varied = self.appearance.active or len(self.blends) > 1 or 'motion' in self.blends
        if varied:  # a second stream of the same seed: the draws above stay today's
            looks, draw_rng = self.looks, np.random.default_rng([seed, 1])
            background_colour = looks.background.draw(draw_rng)
            if background_colour:
                canvas = apply_colour(canvas, background_colour)
                bg_record = dict(bg_record, colour=rounded(background_colour))
            drawn = [looks.draw(draw_rng, self.blends) for _ in boxes]
        else:
            drawn = [Look(blend=self.blends[0]) for _ in boxes]
        placed = list(boxes)
        cover = np.zeros(canvas.shape[:2], bool) if bg_record['method'] == 'scene' else None
        for k in paste_order(boxes):
            placed[k] = self._paste(canvas, *picks[k], boxes[k], drawn[k], cover)
        crops = [dict(label=c.label, image_id=c.image_id, ann_id=c.ann_id, flip=f) for c, f in picks]
        if varied:
            crops = [dict(c, **look.record()) for c, look in zip(crops, drawn)]
        record = dict(grounding='copy-paste', background=bg_record, crops=crops)
        if self.appearance.colour.has_auto:
            record['colour_ranges'] = {k: getattr(self.looks.colour, k) for k in AUTO_KEYS}
        moved = None
        size = np.array([layout.width, layout.height] * 2, np.float64)
        if self.appearance.geometric:
            moved = replace(layout, boxes=np.array(placed, np.float64).reshape(-1, 4) / size)
        if cover is not None:
            scene_boxes, scene_labels = self.background_bank.scene_objects(bg_record, layout.width, layout.height)
            kept, keep = visible_boxes(scene_boxes, cover, s['scene_min_visible'])
            record['scene'] = dict(kept=int(keep.sum()), hidden=int((~keep).sum()))
            pasted = moved or layout
            moved = replace(pasted, boxes=np.concatenate([pasted.boxes, kept / size]),
                            labels=pasted.labels + tuple(name for name, k in zip(scene_labels, keep) if k))
        return GeneratedImage(image=Image.fromarray(np.clip(canvas + 0.5, 0, 255).astype(np.uint8)),
                              seed=seed, record=record, layout=moved)

    def _paste(self, canvas: np.ndarray, crop: ObjectCrop, flip: bool, box: Box, look: Look,
               cover: np.ndarray | None = None) -> Box:
        """Paste ``crop`` for the ``xyxy`` pixel ``box`` into ``canvas`` as ``look`` says, marking its
        object pixels in the bool ``cover`` when given; returns the tight box of its object pixels in
        the image (``box`` itself when instances cannot move)."""
        s = self.settings
        x0, y0, x1, y1 = box
        w, h = max(1, round((x1 - x0) * look.scale)), max(1, round((y1 - y0) * look.scale))
        patch, mask = fit_crop(crop, w, h, flip)
        if look.colour:
            patch = apply_colour(patch, look.colour, mask)
        if look.blur_sigma or look.motion:
            patch = apply_blur(np.asarray(patch, np.float32), look)
        alpha = paste_alpha(h, w, mask, s['feather'], 'none' if look.blend == 'poisson' else look.blend,
                            look.blend_angle)
        support = np.ones((h, w), np.float32) if mask is None else mask.astype(np.float32)
        ring = max(1, round(s['feather'] * min(w, h)))
        edge = None  # the box's outer ring: the crop fills its box exactly, as it always did
        if self.appearance.geometric:
            patch, support, alpha, edge, box = place(patch, support, alpha, box, look, ring, canvas.shape[:2])
        x0, y0, x1, y1 = box
        if s['match_colour'] and (edge is None or edge.any()):
            patch = match_edge_colour(patch, canvas[y0:y1, x0:x1], ring, edge)
        if look.blend == 'poisson':
            poisson_composite(canvas, np.asarray(patch, np.float32), support, box)
        else:
            composite(canvas, patch, alpha, box)
        if cover is not None:
            cover[y0:y1, x0:x1] |= support > 0.5
        if not self.appearance.geometric:
            return box
        bx0, by0, bx1, by1 = tight_box(support)  # not None: the visible part holds the object's middle
        return bx0 + x0, by0 + y0, bx1 + x0, by1 + y0
