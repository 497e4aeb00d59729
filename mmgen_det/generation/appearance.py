"""Per-instance appearance diversity for the copy-paste generator, and a colour shift of its background.

Pasting the real images' own crops as they are adds no appearance the real images lack: with 50 frames
of fixed cameras, every pasted fish has a colour, sharpness, size and orientation that one of the 50
frames already shows. Cut, Paste and Learn (Dwibedi et al., ICCV 2017) and Simple Copy-Paste (Ghiasi
et al., CVPR 2021) gain from varying exactly these per instance. :class:`Appearance` says what to vary,
each setting off by default:

* colour (:class:`ColourJitter`): brightness, contrast, saturation and gamma factors drawn in
  ``[1 - r, 1 + r]`` and a hue shift in ``[-r, r]`` of a turn; ``'auto'`` takes ``r`` from the spread
  of the crop bank's own crops (:func:`auto_colour_ranges`);
* sharpness: a Gaussian blur and a motion blur, each with a probability;
* geometry: a scale factor around the box centre, a rotation and truncation at the image border (the
  generator recomputes each box from the pasted pixels);
* the background's colour, shifted once per image.

In: the ``appearance`` dict of :class:`~.copy_paste.CopyPasteGenerator` and one
``numpy.random.Generator`` per image. Out: a :class:`Look` per instance (the values drawn, recorded
with the image) and the pixel operations that apply it.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from numbers import Real
from typing import Any, Iterable, Mapping, Sequence

import cv2
import numpy as np

from ..utils.keys import check_keys
from .crops import ObjectCrop

COLOUR_KEYS = ('brightness', 'contrast', 'saturation', 'hue', 'gamma')
AUTO_KEYS = ('brightness', 'contrast', 'saturation')
#: 'auto' ranges are capped: factors of 0.5-1.5 already span a dim to a bright camera
AUTO_MAX = 0.5
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _number(value: Any, where: str, low: float, high: float, fix: str, closed: bool = False) -> float:
    """``value`` as a float in ``[low, high)`` (``[low, high]`` when ``closed``), else a ValueError."""
    ok = isinstance(value, Real) and not isinstance(value, bool) and low <= value and (
        value <= high if closed else value < high)
    if not ok:
        bracket = ']' if closed else ')'
        raise ValueError(f'appearance.{where} must be a number in [{low}, {high}{bracket}, got {value!r}: '
                         f'{fix}')
    return float(value)


def _range(value: Any, where: str, low: float, high: float, integer: bool = False) -> tuple:
    """``(min, max)`` with ``low <= min <= max <= high`` (``low < min`` for a ``low`` of 0)."""
    ok = (isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2
          and all(isinstance(v, Real) and not isinstance(v, bool) and (not integer or float(v).is_integer())
                  for v in value))
    if ok:
        lo, hi = (int(v) if integer else float(v) for v in value)
        ok = (lo > low if low == 0 else lo >= low) and lo <= hi <= high
    if not ok:
        kind, below = ('whole numbers' if integer else 'numbers'), '<' if low == 0 else '<='
        raise ValueError(f'appearance.{where} must be (min, max), {kind} with {low} {below} min <= max <= '
                         f'{high}, got {value!r}; give the smaller value first')
    return lo, hi


@dataclass(frozen=True)
class ColourJitter:
    """Photometric change of an instance or a background, each range 0 (off) by default.

    ``brightness``, ``contrast``, ``saturation`` and ``gamma`` are factors drawn uniformly in
    ``[1 - r, 1 + r]`` (``r < 1``); ``hue`` is a shift drawn in ``[-r, r]`` of a full turn (``r < 0.5``).
    An instance's ``brightness``, ``contrast`` and ``saturation`` may be ``'auto'``
    (:func:`auto_colour_ranges`).
    """
    brightness: float | str = 0.0
    contrast: float | str = 0.0
    saturation: float | str = 0.0
    hue: float = 0.0
    gamma: float = 0.0

    @classmethod
    def from_config(cls, value: Any, where: str, allow_auto: bool) -> ColourJitter:
        """Parse ``value`` (a dict of :data:`COLOUR_KEYS`, ``None``, or ``'auto'`` where allowed)."""
        if allow_auto and value == 'auto':
            value = dict.fromkeys(AUTO_KEYS, 'auto')
        value = {} if value is None else value
        if not isinstance(value, Mapping):
            also = " or 'auto'" if allow_auto else ''
            raise TypeError(f'appearance.{where} must be a dict with keys {COLOUR_KEYS}{also}, got {value!r}')
        check_keys(value, COLOUR_KEYS, f'appearance.{where}')
        parsed = {}
        for key, r in value.items():
            if allow_auto and key in AUTO_KEYS and r == 'auto':
                parsed[key] = r
                continue
            auto = " or 'auto'" if allow_auto and key in AUTO_KEYS else ''
            parsed[key] = _number(r, f'{where}.{key}', 0, 0.5 if key == 'hue' else 1,
                                  f'the largest change{auto}; 0 turns it off')
        return cls(**parsed)

    @property
    def has_auto(self) -> bool:
        return any(getattr(self, k) == 'auto' for k in AUTO_KEYS)

    def resolve(self, ranges: Mapping[str, float]) -> ColourJitter:
        """These settings with every ``'auto'`` replaced by its measured range."""
        return replace(self, **{k: ranges[k] for k in AUTO_KEYS if getattr(self, k) == 'auto'})

    def draw(self, rng: np.random.Generator) -> dict[str, float]:
        """One factor (hue: one shift) per non-zero range, in :data:`COLOUR_KEYS` order."""
        if self.has_auto:
            raise RuntimeError("resolve 'auto' colour ranges before drawing")
        drawn = {}
        for key in COLOUR_KEYS:
            r = getattr(self, key)
            if r:
                drawn[key] = float(rng.uniform(-r, r) if key == 'hue' else rng.uniform(1 - r, 1 + r))
        return drawn


@dataclass
class Look:
    """What one pasted instance gets, as drawn for it; neutral values change nothing."""
    colour: dict[str, float] = field(default_factory=dict)
    blur_sigma: float = 0.0
    motion: tuple[int, float] | None = None  # (length px, angle degrees) of a motion blur
    scale: float = 1.0
    angle: float = 0.0  # rotation, degrees counter-clockwise
    visible: float = 1.0  # < 1: moved across the nearest border until this fraction of it shows
    blend: str = 'gaussian'
    blend_angle: float = 0.0  # direction of a 'motion' blend's edge, degrees

    def record(self) -> dict[str, Any]:
        """The values that change something, rounded, for the image's generation record."""
        neutral = Look(blend=self.blend)
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value != getattr(neutral, f.name) or f.name == 'blend':
                out[f.name] = rounded(value)
        return out


def rounded(value: Any) -> Any:
    """``value`` with floats rounded to 4 digits and tuples as lists, for a generation record."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v) for v in value]
    return value


APPEARANCE_KEYS = ('colour', 'blur', 'blur_sigma', 'motion_blur', 'motion_blur_length', 'scale', 'rotation',
                   'truncation', 'min_visible', 'background')


@dataclass(frozen=True)
class Appearance:
    """What to vary per pasted instance (and per background); every default leaves it as it was.

    Attributes:
        colour: the instance's :class:`ColourJitter` (``'auto'`` for measured brightness, contrast and
            saturation ranges).
        blur: probability of a Gaussian blur with sigma drawn in ``blur_sigma`` (px).
        motion_blur: probability of a motion blur along a random direction, its length drawn in
            ``motion_blur_length`` (px).
        scale: ``(min, max)`` factor of the instance's size around its box centre, drawn log-uniformly
            (``(1, 1)``: off).
        rotation: largest rotation in degrees, drawn uniformly in ``[-rotation, rotation]``.
        truncation: probability that an instance is moved across the image border nearest to it, so
            that a fraction drawn in ``[min_visible, 1)`` of its extent stays inside.
        background: the background's :class:`ColourJitter`, drawn once per image.
    """
    colour: ColourJitter = ColourJitter()
    blur: float = 0.0
    blur_sigma: tuple[float, float] = (0.5, 1.5)
    motion_blur: float = 0.0
    motion_blur_length: tuple[int, int] = (3, 7)
    scale: tuple[float, float] = (1.0, 1.0)
    rotation: float = 0.0
    truncation: float = 0.0
    min_visible: float = 0.5
    background: ColourJitter = ColourJitter()

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | Appearance | None) -> Appearance:
        """Parse the ``appearance`` setting; a bad value is an error naming its key and the fix."""
        if isinstance(cfg, Appearance):
            return cfg
        cfg = {} if cfg is None else cfg
        if not isinstance(cfg, Mapping):
            raise TypeError(f'appearance must be a dict with keys {APPEARANCE_KEYS}, got {cfg!r}')
        check_keys(cfg, APPEARANCE_KEYS, 'appearance')
        parsed: dict[str, Any] = {}
        for key, value in cfg.items():
            if key in ('colour', 'background'):
                parsed[key] = ColourJitter.from_config(value, key, allow_auto=key == 'colour')
            elif key in ('blur', 'motion_blur', 'truncation'):
                parsed[key] = _number(value, key, 0, 1, 'a probability; 0 turns it off', closed=True)
            elif key == 'min_visible':
                parsed[key] = _number(value, key, 0, 1, 'the smallest fraction of a truncated object kept',
                                      closed=True)
                if parsed[key] == 0:
                    raise ValueError('appearance.min_visible must be above 0: an object must stay visible')
            elif key == 'rotation':
                parsed[key] = _number(value, key, 0, 180, 'the largest angle in degrees; 0 turns it off',
                                      closed=True)
            elif key == 'scale':
                parsed[key] = _range(value, key, 0, 4)
            elif key == 'blur_sigma':
                parsed[key] = _range(value, key, 0, 20)
            else:
                parsed[key] = _range(value, key, 2, 64, integer=True)
        return cls(**parsed)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings (lists, not tuples), as recorded with a set."""
        return _json_ready(asdict(self))

    @property
    def active(self) -> bool:
        """Whether any setting changes a pixel (a blur's range without its probability does not)."""
        off = ColourJitter()
        return (self.colour != off or self.background != off or self.blur > 0 or self.motion_blur > 0
                or self.geometric)

    @property
    def geometric(self) -> bool:
        """Whether instances can move off their layout boxes (the boxes are then recomputed)."""
        return self.scale != (1.0, 1.0) or self.rotation > 0 or self.truncation > 0

    def draw(self, rng: np.random.Generator, blends: Sequence[str]) -> Look:
        """One instance's :class:`Look`; each active setting draws from ``rng`` in a fixed order."""
        look = Look(colour=self.colour.draw(rng))
        if self.blur:
            chosen, sigma = rng.random() < self.blur, float(rng.uniform(*self.blur_sigma))
            look.blur_sigma = sigma if chosen else 0.0
        if self.motion_blur:
            chosen = rng.random() < self.motion_blur
            length = int(rng.integers(self.motion_blur_length[0], self.motion_blur_length[1] + 1))
            angle = float(rng.uniform(0, 180))
            look.motion = (length, angle) if chosen else None
        if self.scale != (1.0, 1.0):
            look.scale = float(math.exp(rng.uniform(math.log(self.scale[0]), math.log(self.scale[1]))))
        if self.rotation:
            look.angle = float(rng.uniform(-self.rotation, self.rotation))
        if self.truncation:
            chosen, visible = rng.random() < self.truncation, float(rng.uniform(self.min_visible, 1))
            look.visible = visible if chosen else 1.0
        look.blend = blends[int(rng.integers(len(blends)))] if len(blends) > 1 else blends[0]
        if look.blend == 'motion':
            look.blend_angle = float(rng.uniform(0, 180))
        return look


def _json_ready(value: Any) -> Any:
    """``value`` with tuples as lists, as JSON gives them back (so recorded settings compare equal)."""
    if isinstance(value, Mapping):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    return value


def colour_statistics(crop: ObjectCrop) -> tuple[float, float, float]:
    """Mean luma (brightness), luma standard deviation (contrast) and mean HSV saturation of a crop's
    object pixels (its mask, else the whole crop), luma in [0, 255] and saturation in [0, 1]."""
    pixels = np.asarray(crop.image, np.float32).reshape(-1, 3)
    if crop.mask is not None and crop.mask.any():
        pixels = pixels[crop.mask.reshape(-1)]
    luma = pixels @ LUMA
    top = pixels.max(axis=1)
    saturation = np.where(top > 0, (top - pixels.min(axis=1)) / np.maximum(top, 1e-6), 0)
    return float(luma.mean()), float(luma.std()), float(saturation.mean())


def auto_colour_ranges(crops: Iterable[ObjectCrop]) -> dict[str, float]:
    """``'auto'`` ranges: how much brightness, contrast and saturation already vary between real crops.

    Per crop, the statistic ``v`` of :func:`colour_statistics`; over the crops, its 10th and 90th
    percentiles ``q10``, ``q90``. ``r = (q90 - q10) / (q90 + q10)``, so that factors in ``[1 - r, 1 + r]``
    take a crop midway between them to either percentile: every crop can look as if another of the
    real cameras or lights had shot it, and no more (capped at :data:`AUTO_MAX`; 0 with under 2 crops).
    """
    stats = np.array([colour_statistics(c) for c in crops], np.float64).reshape(-1, 3)
    if len(stats) < 2:
        return dict.fromkeys(AUTO_KEYS, 0.0)
    lo, hi = np.percentile(stats, [10, 90], axis=0)
    spread = np.where(hi + lo > 0, (hi - lo) / np.maximum(hi + lo, 1e-12), 0.0)
    return {k: round(float(min(AUTO_MAX, r)), 4) for k, r in zip(AUTO_KEYS, spread)}


def apply_colour(pixels: np.ndarray, drawn: Mapping[str, float],
                 weight: np.ndarray | None = None) -> np.ndarray:
    """Float32 RGB ``pixels`` in [0, 255] with the drawn :class:`ColourJitter` values applied in
    :data:`COLOUR_KEYS` order, clipped after each step.

    Contrast pivots on the mean luma of ``weight`` (the object's mask), so a crop's own surroundings
    do not decide how the object changes.
    """
    out = np.asarray(pixels, np.float32)
    for key in COLOUR_KEYS:
        if key not in drawn:
            continue
        value = drawn[key]
        if key == 'brightness':
            out = out * value
        elif key == 'contrast':
            luma = out @ LUMA
            use = weight is not None and float(weight.sum()) > 0
            mean = float(np.average(luma, weights=weight) if use else luma.mean())
            out = (out - mean) * value + mean
        elif key == 'saturation':
            grey = (out @ LUMA)[..., None]
            out = grey + (out - grey) * value
        elif key == 'hue':
            hsv = cv2.cvtColor(np.ascontiguousarray(out / 255), cv2.COLOR_RGB2HSV)
            hsv[..., 0] = (hsv[..., 0] + 360 * value) % 360
            out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * 255
        else:
            out = 255 * (out / 255) ** value
        out = np.clip(out, 0, 255).astype(np.float32)
    return out


def line_kernel(length: int, angle: float) -> np.ndarray:
    """A normalised ``length x length`` kernel: a line through its centre at ``angle`` degrees."""
    kernel = np.zeros((length, length), np.uint8)
    c = (length - 1) / 2  # the centre, and the line's half length
    dx, dy = c * math.cos(math.radians(angle)), -c * math.sin(math.radians(angle))
    cv2.line(kernel, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1)
    return kernel.astype(np.float32) / kernel.sum()


def apply_blur(pixels: np.ndarray, look: Look) -> np.ndarray:
    """``pixels`` with the look's Gaussian and motion blur (edges replicated: no dark rim)."""
    out = pixels
    if look.blur_sigma:
        out = cv2.GaussianBlur(out, (0, 0), sigmaX=look.blur_sigma, borderType=cv2.BORDER_REPLICATE)
    if look.motion is not None:
        out = cv2.filter2D(out, -1, line_kernel(*look.motion), borderType=cv2.BORDER_REPLICATE)
    return out


def rotate(pixels: np.ndarray, support: np.ndarray, alpha: np.ndarray,
           angle: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rotate an instance about its centre by ``angle`` degrees onto a canvas that holds all of it.

    ``pixels`` continue past the rotated edge (replicated), so a bilinear edge or a blend that reaches
    beyond it never mixes in black; ``support`` (where the object is) and ``alpha`` are 0 there. The
    canvas is centred on the instance's centre.
    """
    h, w = support.shape
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    out_w, out_h = math.ceil(w * cos + h * sin - 1e-6), math.ceil(w * sin + h * cos - 1e-6)
    matrix[:, 2] += ((out_w - w) / 2, (out_h - h) / 2)
    size = (out_w, out_h)
    pixels = cv2.warpAffine(pixels, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    support, alpha = (cv2.warpAffine(a, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
                      for a in (support, alpha))
    return pixels, support, alpha
