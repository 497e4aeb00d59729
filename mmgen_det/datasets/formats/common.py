"""What every reader shares: the error type, the split record, box maths, the checks of images,
paths, names and text files.

In:  boxes in the readers' coordinates, image files, a reader's images and boxes one at a time.
Out: :class:`ConvertedSplit` objects (a checked COCO dict per split, plus each image's source file)
     built by :class:`SplitBuilder`, which applies the ``on_invalid`` and ``on_bad_image`` policies
     and counts each fix.

Every problem raises a :class:`DatasetFormatError` that names the file, the record in it and the
fix, except the *fixable* geometric ones (a box poking out of the image, an empty box), which follow
``on_invalid``: ``'clip'`` (default: clip to the image, drop boxes left empty), ``'drop'`` or
``'fail'``; and images the training decoder cannot read, which follow ``on_bad_image``: ``'fail'``
(default) or ``'skip'`` (the image and its boxes are left out, counted). Images are judged, and
sized (EXIF orientation included), by the decoder mmdet's pipeline uses: :func:`mmcv.imfrombytes`.
Every file a split uses must lie, links followed, inside the dataset folder unless the user allows
otherwise: the experiment runner's cache key digests only that folder. Categories are written in id
order, since mmdet's ``CocoDataset`` numbers labels in list order; a box's ``area`` is always the
``w * h`` of the box written (only boxes are trained and evaluated; pycocotools ignores a box whose
area is out of range, so a source's -1 would score a missed object as found).
"""
from __future__ import annotations

import hashlib
import io
import math
import os
import re
import unicodedata
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, NamedTuple, Sequence

from PIL import Image

from mmgen_det.utils.io import PathLike, safe_join
from mmgen_det.utils.text import first_few
from mmgen_det.utils.progress import ProgressBar

ON_INVALID = ('clip', 'drop', 'fail')
ON_BAD_IMAGE = ('fail', 'skip')
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
    'path_fallback': 'split paths or image lists found only by a fallback (listed in the report)',
    'decoded_with_warning': 'images PIL refuses but OpenCV, which training uses, decodes (kept)',
    'bad_image_skipped': 'undecodable images skipped (--on-bad-image skip)',
    'boxes_of_skipped_images': 'boxes left out with the skipped images',
    'area_recomputed': "source areas differing from the box's w*h by over 1% (area set to w*h)",
    'images_without_label_file': 'images without a label file (kept without boxes)',
    'images_without_xml': 'images in the image folder that no XML names (left out)',
}
# A source area within this fraction of the box's w*h is the same area (rounding); beyond, it is counted.
AREA_TOLERANCE = 0.01
# Unicode categories a class name may not hold: control characters (C0, DEL, C1), line and paragraph
# separators. They end the line of a report, a config or a csv the name is written to.
NOT_IN_NAMES = ('Cc', 'Zl', 'Zp')
SHOWN = 5  # files named in an error about many files
OUTSIDE_FIX = ('move the file into the dataset folder, fix the path, or pass --allow-outside-root '
               '(allow_outside_root=True) to read it from there')


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


class UndecodableImageError(DatasetFormatError):
    """An image file the training decoder cannot read: ``on_bad_image`` decides what happens."""


@dataclass
class ConvertedSplit:
    """One split ready to write: its COCO dict, the source of each image, and what was fixed.

    ``fallbacks`` says each path that was not found as written and how it was found instead;
    ``image_notes`` each image kept with a decoder warning or skipped (source path -> what).
    """
    name: str
    coco: dict[str, Any]
    sources: dict[str, Path]  # COCO file_name -> source image file
    problems: Counter = field(default_factory=Counter)
    hashes: dict[str, str] = field(default_factory=dict)  # COCO file_name -> sha256 of the file
    fallbacks: list[str] = field(default_factory=list)
    image_notes: dict[str, str] = field(default_factory=dict)


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


# ----------------------------------------------------------------------------- files

def not_utf8(path: PathLike, error: UnicodeDecodeError) -> DatasetFormatError:
    """The error for a text file in another encoding than UTF-8 (often Latin-1 / Windows-1252)."""
    line = error.object[:error.start].count(b'\n') + 1
    return DatasetFormatError(
        f'not UTF-8 text: byte 0x{error.object[error.start]:02x} is not valid UTF-8 (the file is '
        'probably Latin-1 / Windows-1252)', 'save it as UTF-8, e.g. iconv -f latin1 -t utf-8 FILE '
        '> FILE.utf8 and replace FILE with it', path, f'line {line}')


def read_text(path: Path) -> str:
    """A text file of the dataset as UTF-8 (a BOM dropped); another encoding is refused, not guessed:
    class names and labels read with the wrong one would be wrong silently."""
    data = path.read_bytes()
    try:
        return data.decode('utf-8-sig')
    except UnicodeDecodeError as e:
        raise not_utf8(path, e) from None


def check_unique_names(names: dict[Any, str], key: str, file: PathLike | None,
                       record: str) -> None:
    """Refuse a class name given twice: mmdet and the reports look classes up by name, so the two
    classes would be merged. ``key`` names the keys of ``names`` (plural: ``'indices'``, ``'ids'``)."""
    keys = defaultdict(list)
    for k, name in names.items():
        keys[str(name).strip()].append(k)
    twice = [f'{name!r} ({key} {ks})' for name, ks in keys.items() if len(ks) > 1]
    if twice:
        raise DatasetFormatError(f'class names given more than once: {", ".join(twice)}',
                                 'give each class one distinct name; if they are one class, '
                                 'relabel them to one', file, record)


def check_class_name(name: Any, file: PathLike | None, record: str) -> str:
    """``name`` as the text of a class name, refusing values that only look like one.

    YAML reads an unquoted ``yes``/``no``/``on``/``off`` as a boolean and ``null``, ``~`` or nothing
    as None, which became the classes ``'True'`` and ``'None'``; an empty name shifts or merges the
    classes; a control character breaks the line of every report and config it is written to.
    """
    if name is None or isinstance(name, bool):
        what = 'missing (null)' if name is None else f'the boolean {name}'
        raise DatasetFormatError(
            f'class name is {what}: YAML reads an unquoted yes/no/on/off/true/false as a boolean '
            'and null, ~ or nothing as null', "quote the name in the YAML, e.g. 'yes', or write "
            'the missing name', file, record)
    text = str(name)
    if not text.strip():
        raise DatasetFormatError('class name is empty', 'write the class name (a blank one '
                                 'shifts or merges the classes after it)', file, record)
    control = sorted({c for c in text if unicodedata.category(c) in NOT_IN_NAMES})
    if control:
        raise DatasetFormatError(f'class name {text!r} holds control characters '
                                 f'({", ".join(map(repr, control))})', 'remove them: a class name '
                                 'is one line of printable text', file, record)
    return text


def dataset_roots(*folders: Path, allow_outside_root: bool) -> list[Path] | None:
    """The resolved folders a split's files must lie in; None when the user allows any place."""
    return None if allow_outside_root else [f.resolve() for f in folders]


def check_inside(path: Path, roots: list[Path] | None, file: PathLike, record: str) -> None:
    """Refuse ``path`` when it resolves (links followed) outside every root of ``roots``."""
    if roots is None:
        return
    real = path.resolve()
    if not any(real.is_relative_to(root) for root in roots):
        link = f' (it leads to {real})' if real != Path(os.path.abspath(path)) else ''
        raise DatasetFormatError(f'{path}{link} is outside the dataset folder {roots[0]}',
                                 OUTSIDE_FIX, file, record)


class DecodedImage(NamedTuple):
    """What :func:`decode_image` learns of an image file."""
    width: int
    height: int
    sha256: str
    warning: str | None  # why PIL refuses a file the training decoder reads


def decode_image(path: Path) -> DecodedImage:
    """Decode ``path`` as training will (:func:`mmcv.imfrombytes`, i.e. OpenCV, EXIF orientation
    applied) and return its size, content hash and PIL's objection, if any.

    Decoding fully makes a truncated or corrupt file fail here, not in the middle of training. PIL
    reads the header first, so a decompression bomb is refused before any pixel is allocated.
    Raises :class:`UndecodableImageError` for a file OpenCV cannot decode, and a
    :class:`DatasetFormatError` for one over PIL's decompression-bomb limit.
    """
    import cv2  # here, not at the top: a command's --help reads the formats' names without mmcv and torch
    import mmcv
    data = path.read_bytes()
    warning = None
    with warnings.catch_warnings():
        warnings.simplefilter('error', Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as im:
                im.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise too_large(path, str(e)) from None
        except (OSError, SyntaxError, ValueError) as e:  # PIL raises all three for broken files
            warning = str(e)
    try:
        array = mmcv.imfrombytes(data)
    except cv2.error:  # an empty file
        array = None
    if array is None:
        why = f'{warning}; OpenCV, which training uses, cannot decode it either' if warning else \
            'OpenCV, which training uses, cannot decode it, though PIL can: it is damaged'
        raise UndecodableImageError(f'image {path} cannot be decoded ({why})',
                                    'replace the file with a valid image or remove the record, or '
                                    'rerun with --on-bad-image skip to leave it and its boxes out')
    height, width = array.shape[:2]
    if width * height > Image.MAX_IMAGE_PIXELS:  # a file PIL could not read the header of
        raise too_large(path, f'{width}x{height} pixels')
    return DecodedImage(width, height, hashlib.sha256(data).hexdigest(), warning)


def too_large(path: Path, what: str) -> DatasetFormatError:
    return DatasetFormatError(
        f'image {path} is over the decompression-bomb limit of {Image.MAX_IMAGE_PIXELS} pixels '
        f'({what})', 'downscale the image, or remove it and its record (a header claiming such a '
        'size is often corrupt or hostile)')


def read_image_size(path: PathLike) -> tuple[int, int]:
    """``(width, height)`` as mmcv/OpenCV will see it (see :func:`decode_image`)."""
    image = decode_image(Path(path))
    return image.width, image.height


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


def in_id_order(categories: list[dict]) -> list[dict]:
    """Categories sorted by id: mmdet's ``CocoDataset`` gives label k to the k-th category of the
    list, so list order must be the id order our class lists follow."""
    return sorted(categories, key=lambda c: c['id'])


class SplitBuilder:
    """Accumulates one split's images and boxes, checking each as it is added.

    ``roots`` (from :func:`dataset_roots`) are the folders its images must lie in.
    """

    def __init__(self, name: str, categories: list[dict], on_invalid: str, total: int, *,
                 roots: list[Path] | None, on_bad_image: str) -> None:
        self.name, self.categories, self.on_invalid = name, in_id_order(categories), on_invalid
        self.roots, self.on_bad_image = roots, on_bad_image
        self.images: dict[int, dict] = {}
        self.annotations: list[dict] = []
        self.sources: dict[str, Path] = {}
        self.records: dict[str, str] = {}  # COCO file_name -> the record that named its image
        self.hashes: dict[str, str] = {}
        self.problems: Counter = Counter()
        self.image_notes: dict[str, str] = {}
        self.skipped: set[int] = set()  # given ids of skipped images, whose boxes add_box drops
        self.progress = ProgressBar(total, desc=f'{name}')

    def add_image(self, src: Path, rel: str, file: PathLike, record: str,
                  image_id: int | None = None, declared_size: tuple[int, int] | None = None,
                  extra: dict | None = None) -> int | None:
        """Check the image file; ``rel`` is its path under ``images/<split>/``. Returns its id, or
        None when it is skipped (undecodable, under ``on_bad_image='skip'``)."""
        if not src.is_file():
            raise DatasetFormatError(f'image {src} does not exist',
                                     'put the image there or remove the record', file, record)
        check_inside(src, self.roots, file, record)
        file_name = f'images/{self.name}/{Path(rel).as_posix()}'
        if file_name in self.sources:
            first = self.sources[file_name]
            if first.resolve() == src.resolve():
                raise DatasetFormatError(f'image {src} is listed twice in split {self.name!r} '
                                         f'(first: {self.records[file_name]})',
                                         'keep one record per image', file, record)
            raise DatasetFormatError(
                f'two images would both be written as {file_name}: {first} '
                f'({self.records[file_name]}) and {src}', 'rename one of them, or remove the record '
                'of the one that does not belong', file, record)
        self.progress.update()
        try:
            image = decode_image(src)
        except UndecodableImageError as e:
            if self.on_bad_image == 'fail':
                raise e.at(file, record) from None
            self.problems['bad_image_skipped'] += 1
            self.image_notes[str(src)] = f'skipped: {e.problem}'
            if image_id is not None:
                self.skipped.add(image_id)
            return None
        except DatasetFormatError as e:
            raise e.at(file, record) from None
        if image.warning:
            self.problems['decoded_with_warning'] += 1
            self.image_notes[str(src)] = (f'kept: OpenCV, which training uses, decodes it; PIL '
                                          f'refuses it ({image.warning})')
        if declared_size is not None and tuple(declared_size) != (image.width, image.height):
            self.problems['size_mismatch'] += 1
        image_id = len(self.images) + 1 if image_id is None else image_id
        self.images[image_id] = {**(extra or {}), 'id': image_id, 'file_name': file_name,
                                 'width': image.width, 'height': image.height}
        self.sources[file_name] = src
        self.records[file_name] = f'{file}: {record}'
        self.hashes[file_name] = image.sha256
        return image_id

    def add_box(self, image_id: int, category_id: int, bbox: list[float], file: PathLike,
                record: str, extra: dict | None = None) -> None:
        """Add a box after the fix-up policy; keeps ``extra`` keys (COCO pass-through) but ``area``,
        which is the box's ``w * h`` (a source area that differs is counted)."""
        if image_id in self.skipped:
            self.problems['boxes_of_skipped_images'] += 1
            return
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
        if 'area' in extra and not same_area(extra['area'], bbox[2] * bbox[3]):
            self.problems['area_recomputed'] += 1
        self.annotations.append({**extra, 'id': extra.get('id', len(self.annotations) + 1),
                                 'image_id': image_id, 'category_id': category_id, 'bbox': fixed,
                                 'area': fixed[2] * fixed[3], 'iscrowd': extra.get('iscrowd', 0)})

    def finish(self, extra: dict | None = None, fallbacks: Sequence[str] = ()) -> ConvertedSplit:
        """The split; ``fallbacks`` are the reader's notes on paths not found as written."""
        self.progress.close()
        if fallbacks:
            self.problems['path_fallback'] += len(fallbacks)
        coco = {**(extra or {}), 'images': list(self.images.values()),
                'annotations': self.annotations, 'categories': self.categories}
        return ConvertedSplit(self.name, coco, self.sources, self.problems, self.hashes,
                              list(fallbacks), self.image_notes)


def same_area(area: Any, box_area: float) -> bool:
    """Whether a source's ``area`` is its box's ``w * h``, up to :data:`AREA_TOLERANCE`."""
    return (isinstance(area, (int, float)) and not isinstance(area, bool)
            and math.isclose(area, box_area, rel_tol=AREA_TOLERANCE))


def check_disjoint_splits(splits: Sequence[ConvertedSplit], src: PathLike) -> None:
    """Refuse splits that share an image (the same file, or the same bytes): metrics on a held-out
    split that holds training images measure nothing. A split path that fell back to the training
    folder (a flat export) is the usual cause, so the fallbacks are named too."""
    first: dict[tuple[str, str], tuple[str, Path]] = {}  # ('file' | 'sha256', key) -> (split, image)
    shared = []
    for split in splits:
        for file_name, image in split.sources.items():
            keys = [('file', str(image.resolve())), ('sha256', split.hashes[file_name])]
            earlier = next((first[k] for k in keys if k in first and first[k][0] != split.name),
                           None)
            if earlier:
                shared.append(f'{earlier[1]} ({earlier[0]}) = {image} ({split.name})')
            for k in keys:
                first.setdefault(k, (split.name, image))
    if shared:
        fallbacks = [f'{s.name}: {note}' for s in splits for note in s.fallbacks]
        hint = f'; paths found by a fallback: {"; ".join(fallbacks)}' if fallbacks else ''
        raise DatasetFormatError(
            f'{len(shared)} images are in more than one split (the same file or the same '
            f'content): {first_few(shared, sep="; ")}{hint}',
            'make the splits disjoint: point each split at its own images (fix a split path that '
            'fell back to another folder), or remove the duplicates from one split', src, 'splits')
