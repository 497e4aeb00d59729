"""Layout sampling: a real COCO annotation file in, one :class:`Layout` per synthetic image out.

``LayoutSampler(ann_file, **settings).sample(index)`` is a pure function of ``(settings, index)``:
all randomness comes from ``derive_seed(seed, index, attempt, 'layout')``, never from global state,
so any image of a synthetic set can be (re)made alone, in any order, on any rank.

Strategies (``strategy=``):

- ``'copy'``: a real image's boxes reused as they are (new image seeds give new images). Index ``i``
  uses real image ``perm_e[i % n]`` where ``perm_e`` is a seeded permutation, redrawn every epoch
  ``e = i // n``, of the ``n`` real images that have boxes: every real layout is used equally often.
- ``'jitter'``: ``'copy'`` + a random horizontal flip, scale and shift of the whole layout (the scene
  stays coherent: no new overlaps), boxes clipped to the image.
- ``'fit'``: new real-like frames drawn from the real set's statistics, then cut like a copied frame.
  A random real image gives the frame (its size) and the object count; each object's class comes from
  the class frequencies, its size (and aspect) from a random real box of that class (its pixel shape,
  scaled by the ratio of the frames' areas when frames differ in size) with log-normal noise, its
  centre from that box's centre plus noise (``position='empirical'``) or uniform, all in the frame's
  normalised coordinates; a box overlapping a placed one by IoU > ``iou_threshold`` is redrawn, at
  most ``max_place_tries`` times, then dropped (``'overlap'``).

From the real frame (a real image, or a ``'fit'`` frame) to the generated image, one mapping for every
strategy, so sizes and positions share one frame and zoom enlarges both:

- ``aspect='crop'`` (default): a window of the real image with the generated image's aspect ratio
  (the largest that fits, e.g. 202x202 of a 360x202 frame for a 512x512 output) is cut out around a
  random box; boxes are clipped to it. Object shapes are kept, which is what the detector learns;
  the price is that boxes outside the window are lost (counted as ``'cut'``).
- ``aspect='stretch'``: normalised coordinates are reused directly; the whole frame is kept but every
  shape is distorted by the ratio of the aspects (here 1.78x narrower). ``'copy'`` + ``'stretch'``
  reproduces a real layout exactly.
- ``zoom=(min, max)``: the window is further shrunk by ``z ~ U(min, max)`` around a random box, so
  its boxes become ``z`` times larger. This is the fix for small objects: most real boxes in
  surveillance-like data are 1-2 latent cells, which the generator cannot render. ``(1, 1)`` = off.

The window (``source['window']``, normalised ``xyxy`` of the frame) maps a frame box ``b`` to the layout
box ``(b - window[:2]) / (window[2:] - window[:2])`` per axis, clipped to [0, 1]. ``'jitter'`` then
flips, scales and shifts the windowed layout.

Boxes are then dropped, and every drop is counted in ``layout.source['dropped']`` by reason:
``'cut'`` (less than ``min_visible`` of the real box's area left inside the window and, after
``'jitter'``, inside the image: the two steps' visible fractions multiply), ``'overlap'``
(``'fit'`` only), ``'too_small'`` (shorter side under ``min_box_cells`` latent cells of 8 px) and
``'too_many'`` (more than ``max_boxes``, default GLIGEN's 30: the smallest are dropped, or
``too_many_boxes='error'`` raises naming the real image). A layout left with fewer than ``min_boxes``
boxes is redrawn with the next attempt's seed (``source['attempt']`` counts redraws; a redraw of
``'copy'``/``'jitter'`` also picks a random real image, as the same one would usually fail again). The
boxes of redrawn attempts are counted too, in ``source['redraw_dropped']``: by the same reasons, plus
``'under_min_boxes'`` for the boxes such an attempt kept before it was redrawn.

Modules: ``real`` reads the real annotations (skipped boxes counted in ``sampler.real.skipped``),
``geometry`` holds the window/crop/flip maths, this one the settings and the seeded draws.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import Any

import numpy as np

from ..utils.boxes import box_iou
from ..utils.io import PathLike
from ..utils.keys import check_keys
from ..utils.seeds import derive_seed, rng_for
from .geometry import crop_boxes, flip_boxes, largest_boxes, place_window, scale_shift_boxes, window_fraction
from .layout import GLIGEN_MAX_BOXES, Layout
from .real import RealImage, RealSource
from .stats import LATENT_CELL, summarize_boxes

#: bumped whenever the same settings and seed give other layouts: a set resumed across it would mix both
LAYOUT_VERSION = 2
STRATEGIES = ('copy', 'jitter', 'fit')
ASPECTS = ('crop', 'stretch')
TOO_MANY_POLICIES = ('drop_smallest', 'error')
POSITIONS = ('empirical', 'uniform')
DROP_REASONS = ('cut', 'overlap', 'too_small', 'too_many')
REDRAWN = 'under_min_boxes'  # boxes kept by an attempt that was redrawn for having fewer than min_boxes
UNIT_WINDOW = np.array([0.0, 0.0, 1.0, 1.0])


# --------------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LayoutSettings:
    """Every layout-sampling setting, validated; the keys of :func:`build_layout_sampler`'s dict.

    Common: ``strategy, seed, width, height, aspect, zoom, min_box_cells, max_boxes,
    too_many_boxes, min_boxes, max_attempts, min_visible``. ``'jitter'`` only: ``flip`` (probability),
    ``shift`` (max shift per axis, fraction of the image), ``scale`` (range). ``'fit'`` only:
    ``position, position_noise`` (std, fraction of the image), ``size_noise`` (std of the log of each
    side), ``iou_threshold, max_place_tries``. Keys of other strategies are accepted and unused.
    """
    strategy: str = 'jitter'
    seed: int = 0
    width: int = 512
    height: int = 512
    aspect: str = 'crop'
    zoom: tuple[float, float] = (1.0, 1.0)
    min_box_cells: float = 2.0
    max_boxes: int = GLIGEN_MAX_BOXES
    too_many_boxes: str = 'drop_smallest'
    min_boxes: int = 1
    max_attempts: int = 10
    min_visible: float = 0.5
    flip: float = 0.5
    shift: float = 0.1
    scale: tuple[float, float] = (0.9, 1.1)
    position: str = 'empirical'
    position_noise: float = 0.05
    size_noise: float = 0.1
    iou_threshold: float = 0.5
    max_place_tries: int = 20

    def __post_init__(self) -> None:
        for name in ('zoom', 'scale'):  # configs give lists
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))
        checks = [
            (self.strategy in STRATEGIES, f'strategy must be one of {STRATEGIES}, got {self.strategy!r}'),
            (self.aspect in ASPECTS, f'aspect must be one of {ASPECTS}, got {self.aspect!r}'),
            (self.too_many_boxes in TOO_MANY_POLICIES,
             f'too_many_boxes must be one of {TOO_MANY_POLICIES}, got {self.too_many_boxes!r}'),
            (self.position in POSITIONS, f'position must be one of {POSITIONS}, got {self.position!r}'),
            (self.width > 0 and self.height > 0 and self.width % LATENT_CELL == 0
             and self.height % LATENT_CELL == 0,
             f'width and height must be positive multiples of {LATENT_CELL} (the latent cell), '
             f'got {self.width}x{self.height}'),
            (len(self.zoom) == 2 and 1.0 <= self.zoom[0] <= self.zoom[1],
             f'zoom must be (min, max) with 1 <= min <= max, got {self.zoom}'),
            (len(self.scale) == 2 and 0.0 < self.scale[0] <= self.scale[1],
             f'scale must be (min, max) with 0 < min <= max, got {self.scale}'),
            (self.min_box_cells >= 0, f'min_box_cells must be >= 0, got {self.min_box_cells}'),
            (self.max_boxes >= 1, f'max_boxes must be >= 1, got {self.max_boxes}'),
            (0 <= self.min_boxes <= self.max_boxes,
             f'min_boxes must be in [0, max_boxes={self.max_boxes}], got {self.min_boxes}'),
            (self.max_attempts >= 1, f'max_attempts must be >= 1, got {self.max_attempts}'),
            (0.0 < self.min_visible <= 1.0, f'min_visible must be in (0, 1], got {self.min_visible}'),
            (0.0 <= self.flip <= 1.0, f'flip is a probability, got {self.flip}'),
            (0.0 <= self.shift < 1.0, f'shift must be in [0, 1), got {self.shift}'),
            (self.position_noise >= 0 and self.size_noise >= 0, 'position_noise and size_noise must be >= 0'),
            (0.0 < self.iou_threshold <= 1.0, f'iou_threshold must be in (0, 1], got {self.iou_threshold}'),
            (self.max_place_tries >= 1, f'max_place_tries must be >= 1, got {self.max_place_tries}'),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f'layout settings: {message}')


#: the keys of :func:`build_layout_sampler`'s dict: a generation config's ``layout``
LAYOUT_KEYS = ('ann_file', *(f.name for f in fields(LayoutSettings)))


# --------------------------------------------------------------------------------------------------
# Sampler
# --------------------------------------------------------------------------------------------------
class LayoutSampler:
    """Draws layout ``index`` of a synthetic set from real annotations (see the module docstring).

    Args:
        source: a COCO dict, a COCO annotation file, or a loaded :class:`RealSource`.
        **settings: the fields of :class:`LayoutSettings`.
    """

    def __init__(self, source: RealSource | dict[str, Any] | PathLike, **settings: Any) -> None:
        check_keys(settings, [f.name for f in fields(LayoutSettings)], 'layout settings')
        self.settings = LayoutSettings(**settings)
        self.real = source if isinstance(source, RealSource) else RealSource.from_coco(source)
        self._pool = [im for im in self.real.images if len(im.boxes)]
        self._build_fit_tables()

    def _base_fraction(self, width: int, height: int) -> np.ndarray:
        s = self.settings
        return window_fraction(width, height, s.width, s.height, s.aspect)

    def _build_fit_tables(self) -> None:
        """Per class: real box sizes in pixels, centres normalised to their frame, and frame areas."""
        labels = np.concatenate([im.labels for im in self._pool])
        boxes = np.concatenate([im.boxes for im in self._pool])
        frames = np.concatenate([np.tile([im.width, im.height], (len(im.boxes), 1)) for im in self._pool])
        image_ids = np.concatenate([[im.id] * len(im.boxes) for im in self._pool])
        self._classes = sorted(set(labels.tolist()))
        self._class_p = np.array([np.sum(labels == c) for c in self._classes]) / len(labels)
        sizes_px = (boxes[:, 2:] - boxes[:, :2]) * frames
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        self._by_class = [dict(sizes_px=sizes_px[labels == c], centres=centres[labels == c],
                               frame_areas=frames[labels == c].prod(axis=1), image_ids=image_ids[labels == c])
                          for c in self._classes]

    def real_image_for(self, index: int) -> RealImage:
        """The real image ``'copy'``/``'jitter'`` use for ``index``: balanced seeded round-robin."""
        epoch, position = divmod(index, len(self._pool))
        return self._pool[_epoch_order(self.settings.seed, epoch, len(self._pool))[position]]

    def sample(self, index: int) -> Layout:
        """Layout ``index``: a pure function of the settings (seed included) and ``index``."""
        s = self.settings
        redraw_dropped: Counter[str] = Counter()
        for attempt in range(s.max_attempts):
            # attempt 0 draws from rng_for(seed, index, 'layout'); redraws from the next attempts' seeds
            rng = np.random.default_rng(derive_seed(s.seed, index, attempt, 'layout'))
            dropped = dict.fromkeys(DROP_REASONS, 0)
            if s.strategy == 'fit':
                boxes, labels, source, where = self._draw_fit(rng, dropped)
            else:
                image = self.real_image_for(index) if attempt == 0 else self._pool[rng.integers(len(self._pool))]
                boxes, labels, source, where = self._draw_copy(image, rng, dropped)
            boxes, labels = self._drop_small_and_excess(boxes, labels, dropped, index, where)
            if len(boxes) >= s.min_boxes:
                source.update(attempt=attempt, dropped=dropped, redraw_dropped=dict(+redraw_dropped))
                return Layout(index=index, width=s.width, height=s.height, boxes=boxes, labels=tuple(labels),
                              source=dict(strategy=s.strategy, **source))
            redraw_dropped.update({**dropped, REDRAWN: len(boxes)})
        raise RuntimeError(f'layout {index}: all {s.max_attempts} attempts kept fewer than '
                           f'min_boxes={s.min_boxes} boxes (boxes dropped over all attempts: '
                           f'{dict(+redraw_dropped)}); lower min_box_cells, raise zoom, or set min_boxes=0 '
                           'to allow layouts without boxes')

    def _window(self, width: int, height: int, boxes: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
                dropped: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Cut the generated image's window from a ``width x height`` frame whose boxes are normalised to it.

        Returns the boxes in the window's coordinates, their labels and visible fractions (boxes under
        ``min_visible`` dropped as ``'cut'``), and the zoom and window for the layout's record.
        """
        s = self.settings
        zoom = rng.uniform(*s.zoom)
        size = self._base_fraction(width, height) / zoom
        anchor = boxes[rng.integers(len(boxes))]
        # the anchor box lands anywhere in the middle half of the window, so windows vary around it
        centre = (anchor[:2] + anchor[2:]) / 2 + (rng.random(2) - 0.5) * size / 2
        window = place_window(size, centre)
        cropped, visible = crop_boxes(boxes, window)
        keep = visible >= s.min_visible
        cropped, labels = _keep(cropped, labels, keep, 'cut', dropped)
        return cropped, labels, visible[keep], dict(zoom=round(float(zoom), 4), window=np.round(window, 6).tolist())

    def _draw_copy(self, image: RealImage, rng: np.random.Generator,
                   dropped: dict[str, int]) -> tuple[np.ndarray, np.ndarray, dict[str, Any], str]:
        """A real image's boxes through a (zoom) window and, for ``'jitter'``, a flip/scale/shift."""
        s = self.settings
        boxes, labels, visible, window = self._window(image.width, image.height, image.boxes, image.labels, rng,
                                                      dropped)
        source = dict(image_id=image.id, file_name=image.file_name, **window, flip=False)
        if s.strategy == 'jitter':
            flip = bool(rng.random() < s.flip)
            scale = rng.uniform(*s.scale)
            shift = rng.uniform(-s.shift, s.shift, 2)
            boxes, still_visible = crop_boxes(scale_shift_boxes(flip_boxes(boxes) if flip else boxes, scale, shift),
                                              UNIT_WINDOW)
            # visible share of the real box: both cuts together, not each step on its own
            boxes, labels = _keep(boxes, labels, visible * still_visible >= s.min_visible, 'cut', dropped)
            source.update(flip=flip, scale=round(float(scale), 4), shift=np.round(shift, 4).tolist())
        return boxes, labels, source, f'real image id {image.id} ({image.file_name})'

    def _draw_fit(self, rng: np.random.Generator,
                  dropped: dict[str, int]) -> tuple[np.ndarray, np.ndarray, dict[str, Any], str]:
        """A new frame of objects drawn from the real per-class statistics, then cut like a real one."""
        s = self.settings
        frame = self._pool[rng.integers(len(self._pool))]  # gives the frame size and the object count
        frame_px = np.array([frame.width, frame.height], dtype=np.float64)
        classes = rng.choice(len(self._classes), size=len(frame.boxes), p=self._class_p)
        boxes, labels, image_ids = [], [], set()
        for c in classes:
            table = self._by_class[c]
            for _ in range(s.max_place_tries):
                k = rng.integers(len(table['sizes_px']))
                px = table['sizes_px'][k] * np.sqrt(frame_px.prod() / table['frame_areas'][k])
                size = px / frame_px * np.exp(rng.normal(0.0, s.size_noise, 2))
                centre = (table['centres'][k] + rng.normal(0.0, s.position_noise, 2)
                          if s.position == 'empirical' else rng.random(2))
                box = place_window(size, centre)
                if not boxes or box_iou([box], boxes).max() <= s.iou_threshold:
                    boxes.append(box)
                    labels.append(self._classes[c])
                    image_ids.add(int(table['image_ids'][k]))
                    break
            else:
                dropped['overlap'] += 1
        # the first object always finds room, so the window has a box to anchor on
        boxes, labels, _, window = self._window(frame.width, frame.height, np.array(boxes, dtype=np.float64),
                                                np.array(labels, dtype=object), rng, dropped)
        source = dict(frame_image_id=frame.id, image_ids=sorted(image_ids), **window)
        return boxes, labels, source, 'the fit strategy (object count drawn from the real images)'

    def _drop_small_and_excess(self, boxes: np.ndarray, labels: np.ndarray, dropped: dict[str, int],
                               index: int, where: str) -> tuple[np.ndarray, np.ndarray]:
        """Drop boxes the generator cannot render, then enforce ``max_boxes`` explicitly."""
        s = self.settings
        sides = (boxes[:, 2:] - boxes[:, :2]) * np.array([s.width, s.height])
        boxes, labels = _keep(boxes, labels, sides.min(axis=1) >= s.min_box_cells * LATENT_CELL,
                              'too_small', dropped)
        if len(boxes) > s.max_boxes:
            if s.too_many_boxes == 'error':
                raise ValueError(f'layout {index}: {len(boxes)} boxes from {where} exceed max_boxes={s.max_boxes} '
                                 f'(GLIGEN takes at most {GLIGEN_MAX_BOXES}); set too_many_boxes="drop_smallest" '
                                 'or raise zoom')
            boxes, labels = _keep(boxes, labels, largest_boxes(boxes, s.max_boxes), 'too_many', dropped)
        return boxes, labels

    def source_stats(self, min_cells: float = 2.0) -> dict[str, Any]:
        """Statistics of the real boxes as they land on the generated image without zoom or jitter."""
        s = self.settings
        sizes = [(im.boxes[:, 2:] - im.boxes[:, :2]) / self._base_fraction(im.width, im.height)
                 * np.array([s.width, s.height])
                 for im in self.real.images]
        return summarize_boxes(sizes, [im.labels for im in self.real.images], name='real',
                               dropped=self.real.skipped, min_cells=min_cells)

    def identity(self) -> dict[str, Any]:
        """What determines the layouts; a resumed generation run compares it to refuse mixing sets."""
        return dict(asdict(self.settings), source=self.real.name, num_images=len(self.real.images),
                    num_boxes=int(sum(len(im.boxes) for im in self.real.images)))


@lru_cache(maxsize=16)
def _epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The seeded order of the ``n`` real images in round-robin epoch ``epoch`` (cached: indices come in runs)."""
    return rng_for(seed, epoch, 'layout-order').permutation(n)


def _keep(boxes: np.ndarray, labels: np.ndarray, keep: np.ndarray, reason: str,
          dropped: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Apply a keep-mask, counting what it removes under ``reason``: no drop goes uncounted."""
    dropped[reason] += len(keep) - int(np.count_nonzero(keep))
    return boxes[keep], labels[keep]


def build_layout_sampler(cfg: dict[str, Any]) -> LayoutSampler:
    """A sampler from a flat config dict: ``ann_file`` plus any :class:`LayoutSettings` keys.

    Example::

        build_layout_sampler(dict(ann_file='data/f4k/train.json', strategy='jitter', seed=0,
                                  width=512, height=512, zoom=(1.5, 3.0), min_box_cells=2))
    """
    cfg = dict(cfg)
    if 'ann_file' not in cfg:
        raise ValueError(f'layout config needs "ann_file" (a COCO annotation file), got keys {sorted(cfg)}')
    return LayoutSampler(cfg.pop('ann_file'), **cfg)
