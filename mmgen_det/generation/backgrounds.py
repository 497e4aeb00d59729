"""Clean backgrounds (no objects left in them) built from the real images.

In:  a COCO annotation file (or dict) and its image root.
Out: :class:`BackgroundBank`, whose :meth:`~BackgroundBank.pick` returns a background of any target
     size plus a JSON record of where it came from.

Pasting objects onto a real frame that still holds its own objects would leave *unlabelled* objects
in the synthetic image, which teaches the detector that they are background. Two ways avoid it:

* ``'median'``: frames from one fixed camera are grouped (:func:`group_cameras`) and their pixelwise
  median is taken with every labelled box masked out (:func:`masked_median`). Moving objects that were
  never labelled vanish too, because each pixel shows them in only a minority of the frames.
* ``'inpaint'``: in a single frame, the (dilated) labelled boxes are filled from their surroundings
  with ``cv2.inpaint`` (Telea). Unlabelled objects stay, so this is the fallback.
* ``'crop'``: the largest rectangle of a single frame that no (dilated) labelled box touches. Photos
  whose objects fill most of the frame (one scene per image, nothing to inpaint from) still have floor,
  sky or foliage around them.

``'auto'`` uses a median for every camera with at least ``min_frames`` frames, inpaints the frames of
the other cameras whose objects cover little of them, and crops the free part of the rest.

``'scene'`` takes the other way round the unlabelled-object problem: the real frame as it is, its
labelled objects kept as annotations (:meth:`BackgroundBank.scene_objects`), the pasted ones added on
top (Ghiasi et al., "Simple Copy-Paste", CVPR 2021). Crowded photos, which leave nothing to inpaint
and no free rectangle, keep their real context; the generator drops or shrinks the real boxes that
pasted objects hide.
"""
from __future__ import annotations

import math
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from typing import Any, Sequence

import cv2
import numpy as np
from PIL import Image

from ..utils.io import PathLike, safe_join
from .crops import CocoLike, _declared_size, as_coco, open_rgb

#: backgrounds with no labelled object left in them (what a generator that adds no boxes of the frame needs)
CLEAN_METHODS = ('auto', 'median', 'inpaint', 'crop')
METHODS = CLEAN_METHODS + ('scene',)
FREE_GRID = 64  # cells on the longer side of the grid the largest free rectangle is searched on

# Cameras: same pixel size and 32x32 RGB thumbnails (values in [0, 1]) whose mean absolute
# difference is below this. On fish4knowledge-mini frames of one camera differ by 0.005-0.03 (light,
# swaying weed); 0.03 keeps the groups visually pure, 0.05 starts merging similar-coloured scenes.
CAMERA_THRESHOLD = 0.03
THUMB_SIZE = 32


def thumbnail(image: Image.Image, size: int = THUMB_SIZE) -> np.ndarray:
    """A ``(size, size, 3)`` float32 area-averaged thumbnail in [0, 1]: small objects barely move it."""
    return np.asarray(image.convert('RGB').resize((size, size), Image.Resampling.BOX), np.float32) / 255


def group_cameras(sizes: Sequence[tuple[int, int]], thumbs: np.ndarray,
                  threshold: float = CAMERA_THRESHOLD) -> list[list[int]]:
    """Group image indices into fixed-camera scenes.

    Image ``i`` joins the first group (in input order) whose first image has the same size and a
    thumbnail mean absolute difference ``< threshold``; otherwise it starts a new group. Comparing
    to the group's first image (not to any member) stops a slow drift from chaining scenes together.
    """
    groups: list[list[int]] = []
    for i, size in enumerate(sizes):
        for group in groups:
            first = group[0]
            if sizes[first] == size and float(np.abs(thumbs[i] - thumbs[first]).mean()) < threshold:
                group.append(i)
                break
        else:
            groups.append([i])
    return groups


def box_mask(height: int, width: int, boxes: Sequence[Sequence[float]], margin: float = 0.15) -> np.ndarray:
    """Bool ``(H, W)`` mask of COCO ``xywh`` boxes, each grown by ``margin`` x its size (>= 2 px).

    The growth covers fins and shadows that annotators leave just outside the box.
    """
    mask = np.zeros((height, width), bool)
    for x, y, w, h in boxes:
        mx, my = max(2.0, margin * w), max(2.0, margin * h)
        x0, y0 = max(0, math.floor(x - mx)), max(0, math.floor(y - my))
        x1, y1 = min(width, math.ceil(x + w + mx)), min(height, math.ceil(y + h + my))
        mask[y0:y1, x0:x1] = True
    return mask


def aspect_area(width: float, height: float, aspect: float) -> float:
    """Area of the largest window of ``aspect`` (w / h) inside a ``width x height`` rectangle."""
    return min(width, height * aspect) * min(height, width / aspect)


def largest_free_rectangle(mask: np.ndarray, grid: int = FREE_GRID) -> tuple[int, int, int, int]:
    """The ``xyxy`` pixel window, with no True pixel of ``mask``, that holds the largest window of the
    mask's own aspect: what a background of the frame's shape can be cut from (a long thin strip,
    however large, holds only a small one).

    Searched on a grid of at most ``grid`` cells a side, a cell free only when all its pixels are, so
    the window is conservative and the search costs the same for any frame size. ``(0, 0, 0, 0)``
    when no cell is free.
    """
    height, width = mask.shape
    cell = max(1, math.ceil(max(height, width) / grid))
    rows, cols = math.ceil(height / cell), math.ceil(width / cell)
    padded = np.zeros((rows * cell, cols * cell), bool)
    padded[:height, :width] = mask
    free = ~padded.reshape(rows, cell, cols, cell).any(axis=(1, 3))
    aspect = width / height
    best, window = (0.0, 0), (0, 0, 0, 0)
    run = np.zeros(cols, int)  # free cells straight above, per column (the histogram of this row)
    for r in range(rows):
        run = np.where(free[r], run + 1, 0)
        stack: list[int] = []
        for c in range(cols + 1):  # every maximal rectangle under the histogram, one stack pass
            h = run[c] if c < cols else 0
            while stack and run[stack[-1]] >= h:
                top = stack.pop()
                left = stack[-1] + 1 if stack else 0
                score = (aspect_area(c - left, float(run[top]), aspect), (c - left) * int(run[top]))  # ties: area
                if score > best:
                    best, window = score, (left, r + 1 - int(run[top]), c, r + 1)
            stack.append(c)
    x0, y0, x1, y1 = window
    return x0 * cell, y0 * cell, min(x1 * cell, width), min(y1 * cell, height)


def masked_median(frames: np.ndarray, masks: np.ndarray, rows_per_chunk: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel median over the frames where that pixel is not masked.

    Args:
        frames: ``(N, H, W, C)`` uint8.
        masks: ``(N, H, W)`` bool, True where the frame must not be used (an object).
        rows_per_chunk: rows sorted at a time, bounding memory for large frames.

    Returns:
        ``(median, hole)``: the ``(H, W, C)`` uint8 median (upper-rounded mean of the two middle values
        for an even count) and the ``(H, W)`` bool mask of pixels masked in every frame (left 0).
    """
    n, height = frames.shape[:2]
    median = np.zeros(frames.shape[1:], np.uint8)
    hole = np.zeros(masks.shape[1:], bool)
    for r0 in range(0, height, rows_per_chunk):
        rows = slice(r0, r0 + rows_per_chunk)
        values = frames[:, rows].astype(np.uint16)
        values[masks[:, rows]] = np.iinfo(np.uint16).max  # masked samples sort last
        values.sort(axis=0)
        count = (~masks[:, rows]).sum(axis=0)[None, ..., None]  # (1, rows, W, 1)
        # the two middle ranks of the `count` valid samples; equal for an odd count
        lo = np.take_along_axis(values, np.maximum(count - 1, 0) // 2, axis=0)[0]
        hi = np.take_along_axis(values, np.minimum(count // 2, n - 1), axis=0)[0]
        chunk_hole = count[0, ..., 0] == 0
        median[rows] = np.where(chunk_hole[..., None], 0, (lo + hi + 1) // 2)
        hole[rows] = chunk_hole
    return median, hole


def inpaint(image: np.ndarray, mask: np.ndarray, radius: int = 5) -> np.ndarray:
    """Fill the True pixels of ``mask`` in the uint8 ``(H, W, 3)`` image from their surroundings (Telea)."""
    if not mask.any():
        return image.copy()
    return cv2.inpaint(np.ascontiguousarray(image), mask.astype(np.uint8) * 255, radius, cv2.INPAINT_TELEA)


def random_aspect_crop(size: tuple[int, int], target: tuple[int, int],
                       rng: np.random.Generator) -> tuple[int, int, int, int]:
    """A random ``xyxy`` window of an image of ``size`` (w, h) with the aspect of ``target`` (w, h).

    The window is as large as the aspect allows, so resizing it to ``target`` never distorts the
    scene and loses as little of it as possible.
    """
    (w, h), (tw, th) = size, target
    cw, ch = (min(w, max(1, round(h * tw / th))), h) if w * th > h * tw else (w, min(h, max(1, round(w * th / tw))))
    x0, y0 = int(rng.integers(w - cw + 1)), int(rng.integers(h - ch + 1))
    return x0, y0, x0 + cw, y0 + ch


@dataclass(frozen=True)
class BackgroundSource:
    """One background of the bank: how it is made and from which real images."""
    method: str  # 'median', 'inpaint', 'crop' or 'scene'
    camera: int
    image_ids: tuple[int, ...]
    window: tuple[int, int, int, int] | None = None  # 'crop': the free xyxy window of the image

    @property
    def weight(self) -> int:
        """A median stands for all its frames, so cameras are drawn as often as in the real set."""
        return len(self.image_ids)


class BackgroundBank:
    """Clean backgrounds drawn with a caller-owned rng; each is built on first use and cached.

    Build it with :meth:`from_coco`.
    """

    def __init__(self, sources: list[BackgroundSource], cameras: list[list[int]], coco_images: dict[int, dict],
                 boxes: dict[int, list], img_root: PathLike, *, mask_margin: float, inpaint_radius: int,
                 max_frames: int, cache_size: int, box_labels: dict[int, list[str]] | None = None) -> None:
        if not sources:
            raise ValueError('the background bank is empty')
        self.sources = sources
        self.cameras = cameras
        self.camera_of = {image_id: c for c, ids in enumerate(cameras) for image_id in ids}
        self._images = coco_images
        self._boxes = boxes
        self._box_labels = box_labels or {}  # image id -> class name per box of ``boxes``
        self._img_root = img_root
        self.mask_margin = mask_margin
        self.inpaint_radius = inpaint_radius
        self.max_frames = max_frames
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    @classmethod
    def from_coco(cls, ann: CocoLike, img_root: PathLike, method: str = 'auto', *, min_frames: int = 5,
                  camera_threshold: float = CAMERA_THRESHOLD, max_inpaint_fraction: float = 0.15,
                  min_crop_fraction: float = 0.1, mask_margin: float = 0.15, inpaint_radius: int = 5,
                  max_frames: int = 50, cache_size: int = 32) -> 'BackgroundBank':
        """Group the real images into cameras and plan one background per camera or per image.

        Args:
            method: ``'median'`` (cameras with >= ``min_frames`` frames only), ``'inpaint'`` (every
                image), ``'crop'`` (every image's largest object-free rectangle), ``'auto'`` (median
                where possible, else inpainting, else the free rectangle) or ``'scene'`` (every image
                as it is, its labelled objects kept).
            min_frames: fewest frames for a median; with fewer, a slow or resting object survives it.
            camera_threshold: see :func:`group_cameras`.
            max_inpaint_fraction: images whose object mask covers more than this fraction are not
                inpainted (the result would be mostly smear).
            min_crop_fraction: a free rectangle is used when a window of its image's aspect and at least
                this fraction of its area fits in it (enlarged to the target size, a smaller one would be
                mostly blur).
            mask_margin: growth of each labelled box before masking, see :func:`box_mask`.
            inpaint_radius: neighbourhood (px) ``cv2.inpaint`` fills from.
            max_frames: most frames per median (evenly spaced), bounding time and memory.
            cache_size: most built backgrounds kept in memory.
        """
        if method not in METHODS:
            raise ValueError(f'background method must be one of {METHODS}, got {method!r}')
        coco = as_coco(ann)
        images = {im['id']: im for im in sorted(coco.get('images', []), key=lambda im: im['id'])}
        names = {c['id']: str(c['name']) for c in coco.get('categories', [])}
        boxes: dict[int, list] = defaultdict(list)
        box_labels: dict[int, list[str]] = defaultdict(list)
        for a in coco.get('annotations', []):
            boxes[a['image_id']].append([float(v) for v in a['bbox']])
            box_labels[a['image_id']].append(names[a['category_id']])
        ids = list(images)
        sizes, thumbs = {}, []
        for i in ids:  # one image decoded at a time: only sizes and thumbnails are kept
            decoded = open_rgb(safe_join(img_root, images[i]['file_name']), _declared_size(images[i]))
            sizes[i] = decoded.size
            thumbs.append(thumbnail(decoded))
        groups = group_cameras([sizes[i] for i in ids], np.stack(thumbs), camera_threshold) if ids else []
        cameras = [[ids[k] for k in g] for g in groups]
        sources, too_covered = [], 0
        for c, cam in enumerate(cameras):
            if method == 'scene':
                sources.extend(BackgroundSource('scene', c, (i,)) for i in cam)
            elif method in ('auto', 'median') and len(cam) >= min_frames:
                sources.append(BackgroundSource('median', c, tuple(cam)))
            elif method != 'median':
                for i in cam:
                    width, height = sizes[i]
                    mask = box_mask(height, width, boxes[i], mask_margin)
                    if method != 'crop' and mask.mean() <= max_inpaint_fraction:
                        sources.append(BackgroundSource('inpaint', c, (i,)))
                        continue
                    if method != 'inpaint':
                        x0, y0, x1, y1 = largest_free_rectangle(mask)
                        if aspect_area(x1 - x0, y1 - y0, width / height) >= min_crop_fraction * width * height > 0:
                            sources.append(BackgroundSource('crop', c, (i,), (x0, y0, x1, y1)))
                            continue
                    too_covered += 1
        if not sources:
            raise ValueError(
                f'no background could be built with method={method!r} from {len(ids)} images: camera group sizes '
                f'are {sorted((len(cam) for cam in cameras), reverse=True)} (median needs >= min_frames={min_frames}), '
                f'{too_covered} images are more than max_inpaint_fraction={max_inpaint_fraction} objects and have no '
                f'object-free rectangle of min_crop_fraction={min_crop_fraction} of the image')
        return cls(sources, cameras, images, dict(boxes), img_root, mask_margin=mask_margin,
                   inpaint_radius=inpaint_radius, max_frames=max_frames, cache_size=cache_size,
                   box_labels=dict(box_labels))

    def image(self, index: int) -> np.ndarray:
        """The ``(H, W, 3)`` uint8 pixels of background ``index`` (built once, then cached)."""
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        src = self.sources[index]
        ids = src.image_ids
        if src.method == 'median' and len(ids) > self.max_frames:  # evenly spaced, deterministic
            ids = tuple(ids[k] for k in np.linspace(0, len(ids) - 1, self.max_frames).round().astype(int))
        frames = np.stack([np.asarray(self._load(i)) for i in ids])
        masks = np.stack([box_mask(*frames.shape[1:3], self._boxes.get(i, []), self.mask_margin) for i in ids])
        if src.method == 'median':
            pixels, hole = masked_median(frames, masks)
        elif src.method == 'crop':
            x0, y0, x1, y1 = src.window
            pixels, hole = frames[0, y0:y1, x0:x1], masks[0, y0:y1, x0:x1]  # hole: none, by construction
        elif src.method == 'scene':
            pixels, hole = frames[0], np.zeros_like(masks[0])  # its objects stay: they are labelled
        else:
            pixels, hole = frames[0], masks[0]
        pixels = inpaint(pixels, hole, self.inpaint_radius)
        self._cache[index] = pixels
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return pixels

    def pick(self, rng: np.random.Generator, width: int, height: int, image_id: int | None = None,
             window: Sequence[float] | None = None) -> tuple[Image.Image, dict[str, Any]]:
        """Draw a background and fit it to ``width x height`` (random crop of that aspect, then resize).

        With ``image_id`` of a real image (e.g. the one a layout was copied from), only backgrounds of
        that image's camera are candidates when there are any: its boxes then sit in the scene they
        were drawn in (fish in water, not inside a rock). A ``'scene'`` background is never that image
        itself: a layout copied from it would bury its own objects under the pasted ones. ``window``, a normalised ``xyxy`` window of
        that image (e.g. the zoom window a layout was cut from), is then cut instead of a random crop,
        so the background also has the layout's scale.

        Returns:
            ``(image, record)`` with record ``{'method', 'camera', 'image_ids' or 'num_frames', 'crop'}``.
        """
        candidates = list(range(len(self.sources)))
        same: list[int] = []
        if image_id is not None and image_id in self.camera_of:
            same = [k for k in candidates if self.sources[k].camera == self.camera_of[image_id]
                    and not (self.sources[k].method == 'scene' and image_id in self.sources[k].image_ids)]
            candidates = same or candidates
        weights = np.array([self.sources[k].weight for k in candidates], np.float64)
        index = candidates[int(rng.choice(len(candidates), p=weights / weights.sum()))]
        pixels = self.image(index)
        src = self.sources[index]
        if window is not None and same and src.method != 'crop':  # same camera: the window's frame size
            h, w = pixels.shape[:2]
            crop = tuple(round(float(v) * s, 2) for v, s in zip(window, (w, h, w, h)))
            image = Image.fromarray(pixels).resize((width, height), Image.Resampling.BICUBIC, box=crop)
        else:
            crop = random_aspect_crop((pixels.shape[1], pixels.shape[0]), (width, height), rng)
            image = Image.fromarray(pixels).crop(crop).resize((width, height), Image.Resampling.BICUBIC)
        record: dict[str, Any] = dict(method=src.method, camera=src.camera)
        if src.method == 'median':
            record['num_frames'] = len(src.image_ids)
        else:
            record['image_ids'] = list(src.image_ids)
        if src.method == 'crop':
            record['window'] = list(src.window)
        record['crop'] = list(crop)
        return image, record

    def scene_objects(self, record: dict[str, Any], width: int, height: int) -> tuple[np.ndarray, list[str]]:
        """The labelled objects of the ``'scene'`` background :meth:`pick` returned with ``record``, in
        the ``width x height`` image it made: ``(K, 4)`` pixel ``xyxy`` boxes through its crop and resize,
        clipped to the image (a box under 1 px then is dropped, as mmdet's crops do), and their class
        names."""
        (image_id,) = record['image_ids']
        x0, y0, x1, y1 = record['crop']
        scale = np.array([width / (x1 - x0), height / (y1 - y0)] * 2)
        xywh = np.asarray(self._boxes.get(image_id, []), np.float64).reshape(-1, 4)
        boxes = (np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1) - [x0, y0, x0, y0]) * scale
        boxes = np.clip(boxes, 0, [width, height, width, height])
        keep = np.all(boxes[:, 2:] - boxes[:, :2] >= 1, axis=1)
        labels = self._box_labels.get(image_id, [])
        return boxes[keep], [name for name, k in zip(labels, keep) if k]

    def _load(self, image_id: int) -> Image.Image:
        info = self._images[image_id]
        return open_rgb(safe_join(self._img_root, info['file_name']), _declared_size(info))

    def __repr__(self) -> str:
        kinds = defaultdict(int)
        for s in self.sources:
            kinds[s.method] += 1
        return f'{type(self).__name__}(cameras={len(self.cameras)}, backgrounds={dict(kinds)})'
