"""What every reader shares: the error type, the split record, box maths, image sizes, the checks.

In:  boxes in the readers' coordinates, image files, a reader's images and boxes one at a time.
Out: :class:`ConvertedSplit` objects (a checked COCO dict per split, plus each image's source file)
     built by :class:`SplitBuilder`, which applies the ``on_invalid`` policy and counts each fix.

Every problem raises a :class:`DatasetFormatError` that names the file, the record in it and the
fix, except the *fixable* geometric ones (a box poking out of the image, an empty box), which follow
``on_invalid``: ``'clip'`` (default: clip to the image, drop boxes left empty), ``'drop'`` or
``'fail'``. Image sizes always come from the decoded image files, EXIF orientation included.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from PIL import ExifTags, Image

from mmgen_det.utils.io import PathLike, safe_join
from mmgen_det.utils.progress import ProgressBar

ON_INVALID = ('clip', 'drop', 'fail')
IMG_EXTENSIONS = ('.bmp', '.jpeg', '.jpg', '.png', '.tif', '.tiff', '.webp')
# Float noise (in pixels) from converting normalised coordinates; not counted as "outside the image".
PIXEL_EPS = 1e-6
SPLITS = ('train', 'val', 'test')
# Exporters' split names -> ours: Roboflow writes ``valid``, CVAT ``default`` for "no subset".
SPLIT_ALIASES = {'valid': 'val', 'validation': 'val', 'default': 'train'}
CVAT_YOLO_SPLIT = re.compile(r'^obj_(.+)_data$')  # CVAT's YOLO 1.1 export: obj_train_data/
# Problem kind -> how the per-split report words it (after the count).
PROBLEM_KINDS = {
    'clipped': 'boxes clipped to the image',
    'dropped_empty': 'empty boxes dropped',
    'dropped_outside': 'boxes outside the image dropped',
    'size_mismatch': 'annotated image sizes differing from the file (file size used)',
    'polygon_to_box': 'polygons converted to boxes',
    'image_by_xml_name': 'images found by XML file name (<filename> missing or wrong)',
}


class DatasetFormatError(ValueError):
    """A problem in the input data: says what is wrong, where (file and record), and how to fix it.

    Pure helpers raise it without a location; the reader that knows the file adds it with :meth:`at`.
    """

    def __init__(self, problem: str, fix: str, file: PathLike | None = None,
                 record: str | None = None) -> None:
        self.problem, self.fix = problem, fix
        self.file = None if file is None else str(file)
        self.record = record
        where = ''.join(f'{part}: ' for part in (self.file, record) if part)
        super().__init__(f'{where}{problem}. Fix: {fix}')

    def at(self, file: PathLike, record: str) -> DatasetFormatError:
        return DatasetFormatError(self.problem, self.fix, file, record)


@dataclass
class ConvertedSplit:
    """One split ready to write: its COCO dict, the source of each image, and what was fixed."""
    name: str
    coco: dict[str, Any]
    sources: dict[str, Path]  # COCO file_name -> source image file
    problems: Counter = field(default_factory=Counter)


def split_name_of(name: str) -> str:
    """An exporter's split (folder or file) name as ours: ``Valid`` -> ``val``, ``obj_train_data``
    -> ``train``; others unchanged."""
    lower = CVAT_YOLO_SPLIT.sub(r'\1', name.lower())
    return SPLIT_ALIASES.get(lower, lower if lower in SPLITS else name)


def is_image(path: Path) -> bool:
    """An image file by extension; hidden files (macOS ``._x.jpg`` forks) are not images."""
    return path.suffix.lower() in IMG_EXTENSIONS and not path.name.startswith('.')


def image_files(folder: Path, recursive: bool = False) -> list[Path]:
    """The images in ``folder`` (and below it when ``recursive``), sorted."""
    files = folder.rglob('*') if recursive else folder.iterdir()
    return sorted(p for p in files if is_image(p) and p.is_file())


def has_images(folder: Path) -> bool:
    """Whether ``folder`` directly holds an image; stops at the first one (folders can be huge)."""
    return any(is_image(p) for p in folder.iterdir())


# ----------------------------------------------------------------------------- box maths

def yolo_to_coco_bbox(cx: float, cy: float, w: float, h: float,
                      width: int, height: int) -> list[float]:
    """Normalised YOLO ``cx cy w h`` -> absolute COCO ``[x, y, w, h]`` in float pixels (no rounding)."""
    return [(cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height]


def xyxy_to_xywh(xmin: float, ymin: float, xmax: float, ymax: float) -> list[float]:
    """VOC corners -> COCO ``[x, y, w, h]``; coordinates are taken as continuous pixels, as given."""
    return [xmin, ymin, xmax - xmin, ymax - ymin]


def clip_bbox(bbox: list[float], width: int, height: int) -> list[float]:
    """Clip an ``[x, y, w, h]`` box to the image; a box left with no area gets ``w`` or ``h`` = 0."""
    x1, y1 = min(max(bbox[0], 0), width), min(max(bbox[1], 0), height)
    x2, y2 = min(max(bbox[0] + bbox[2], 0), width), min(max(bbox[1] + bbox[3], 0), height)
    return [x1, y1, max(x2 - x1, 0), max(y2 - y1, 0)]


def fix_bbox(bbox: list[float], width: int, height: int,
             on_invalid: str = 'clip') -> tuple[list[float] | None, str | None]:
    """Apply the ``on_invalid`` policy to one box.

    Returns ``(box, None)`` for a valid box, ``(clipped box, 'clipped')``, or ``(None, kind)`` for a
    dropped one (``kind`` is a key of :data:`PROBLEM_KINDS`); raises :class:`DatasetFormatError`
    under ``'fail'``.
    """
    x, y, w, h = bbox
    outside = (x < -PIXEL_EPS or y < -PIXEL_EPS
               or x + w > width + PIXEL_EPS or y + h > height + PIXEL_EPS)
    empty = w <= 0 or h <= 0
    if not outside and not empty:
        return bbox, None
    if on_invalid == 'fail':
        what = 'has no area (xmax <= xmin or ymax <= ymin)' if empty else 'extends outside the image'
        raise DatasetFormatError(
            f'box [x, y, w, h] = {[round(v, 3) for v in bbox]} {what} ({width}x{height})',
            'correct the box, or rerun with --on-invalid clip (clip, drop empty) or drop')
    if on_invalid == 'drop':
        return None, 'dropped_empty' if empty else 'dropped_outside'
    clipped = clip_bbox(bbox, width, height)
    if clipped[2] <= 0 or clipped[3] <= 0:
        return None, 'dropped_empty'
    return clipped, 'clipped'


# ----------------------------------------------------------------------------- images

def read_image_size(path: PathLike) -> tuple[int, int]:
    """Decode the whole image and return ``(width, height)`` as mmcv/OpenCV will see it.

    Decoding fully makes a truncated or corrupt file fail here, not in the middle of training.
    EXIF orientations 5-8 are 90-degree turns, which the decoders apply, so they swap the axes.
    """
    with Image.open(path) as im:
        im.load()
        width, height = im.size
        orientation = im.getexif().get(ExifTags.Base.Orientation, 1)
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def checked_image_size(path: Path, file: PathLike, record: str) -> tuple[int, int]:
    """:func:`read_image_size`, with a missing or undecodable image reported at ``file: record``."""
    if not path.is_file():
        raise DatasetFormatError(f'image {path} does not exist',
                                 'put the image there or remove the record', file, record)
    try:
        return read_image_size(path)
    except (OSError, SyntaxError, ValueError) as e:  # PIL raises all three for broken files
        raise DatasetFormatError(f'image {path} cannot be decoded ({e})',
                                 'replace the file with a valid image or remove the record',
                                 file, record) from None


def safe_image_path(root: Path, file_name: str, file: PathLike, record: str) -> Path:
    """``root / file_name``, refusing absolute names and ``..`` that climb out of ``root``."""
    try:
        return safe_join(root, file_name)
    except ValueError as e:
        raise DatasetFormatError(str(e), 'use a file name relative to the image folder',
                                 file, record) from None


# ----------------------------------------------------------------------------- building a split

def categories_from_names(names: Iterable[str]) -> list[dict]:
    """COCO categories with ids 1..K in the order of ``names``."""
    return [{'id': i, 'name': name} for i, name in enumerate(names, start=1)]


class SplitBuilder:
    """Accumulates one split's images and boxes, checking each as it is added."""

    def __init__(self, name: str, categories: list[dict], on_invalid: str, total: int) -> None:
        self.name, self.categories, self.on_invalid = name, categories, on_invalid
        self.images: dict[int, dict] = {}
        self.annotations: list[dict] = []
        self.sources: dict[str, Path] = {}
        self.problems: Counter = Counter()
        self.progress = ProgressBar(total, desc=f'{name}')

    def add_image(self, src: Path, rel: str, file: PathLike, record: str,
                  image_id: int | None = None, declared_size: tuple[int, int] | None = None,
                  extra: dict | None = None) -> int:
        """Check the image file; ``rel`` is its path under ``images/<split>/``. Returns its id."""
        width, height = checked_image_size(src, file, record)
        if declared_size is not None and tuple(declared_size) != (width, height):
            self.problems['size_mismatch'] += 1
        file_name = f'images/{self.name}/{Path(rel).as_posix()}'
        if file_name in self.sources:
            raise DatasetFormatError(f'image {src} is listed twice in split {self.name!r}',
                                     'keep one record per image', file, record)
        image_id = len(self.images) + 1 if image_id is None else image_id
        self.images[image_id] = {**(extra or {}), 'id': image_id, 'file_name': file_name,
                                 'width': width, 'height': height}
        self.sources[file_name] = src
        self.progress.update()
        return image_id

    def add_box(self, image_id: int, category_id: int, bbox: list[float], file: PathLike,
                record: str, extra: dict | None = None) -> None:
        """Add a box after the fix-up policy; keeps ``extra`` keys (COCO pass-through)."""
        image = self.images[image_id]
        try:
            fixed, kind = fix_bbox(bbox, image['width'], image['height'], self.on_invalid)
        except DatasetFormatError as e:
            raise e.at(file, record) from None
        if kind:
            self.problems[kind] += 1
        if fixed is None:
            return
        extra = extra or {}
        area = extra['area'] if kind is None and 'area' in extra else fixed[2] * fixed[3]
        self.annotations.append({**extra, 'id': extra.get('id', len(self.annotations) + 1),
                                 'image_id': image_id, 'category_id': category_id,
                                 'bbox': fixed, 'area': area, 'iscrowd': extra.get('iscrowd', 0)})

    def finish(self, extra: dict | None = None) -> ConvertedSplit:
        self.progress.close()
        coco = {**(extra or {}), 'images': list(self.images.values()),
                'annotations': self.annotations, 'categories': self.categories}
        return ConvertedSplit(self.name, coco, self.sources, self.problems)
