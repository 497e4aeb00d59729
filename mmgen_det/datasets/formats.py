"""Read YOLO, Pascal VOC and COCO detection datasets into validated COCO dicts, and write them out.

In:  a dataset in one of three formats (a folder, or a ``data.yaml`` / ``.json`` file).
Out: one :class:`ConvertedSplit` per split (a COCO dict whose ``file_name`` s are
     ``images/<split>/<name>``, plus the source file of each image), and from :func:`write_dataset`
     a folder ``DIR/annotations/<split>.json`` + ``DIR/images/<split>/...`` that mmdet reads with
     ``data_root=DIR, ann_file='annotations/<split>.json', data_prefix=dict(img='')``.

This is the one place real annotations are validated. Every problem raises a
:class:`DatasetFormatError` that names the file, the record in it and the fix, except the *fixable*
geometric ones (a box poking out of the image, an empty box), which follow ``on_invalid``:
``'clip'`` (default: clip to the image, drop boxes left empty), ``'drop'`` (drop the box) or
``'fail'``; each fix is counted in :attr:`ConvertedSplit.problems`. Image sizes always come from the
decoded image files, EXIF orientation included, never from the annotations.
"""
from __future__ import annotations

import math
import os
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml
from PIL import ExifTags, Image

from mmgen_det.utils.io import TMP_PREFIX, PathLike, atomic_write_json, read_json, safe_join
from mmgen_det.utils.progress import ProgressBar

FORMATS = ('yolo', 'voc', 'coco')
ON_INVALID = ('clip', 'drop', 'fail')
IMAGE_MODES = ('copy', 'symlink')
IMG_EXTENSIONS = ('.bmp', '.jpeg', '.jpg', '.png', '.tif', '.tiff', '.webp')

# A YOLO field within this much of [0, 1] is an exporter's rounding: the box is fixed per
# ``on_invalid``. Farther out, the file is not normalised YOLO (e.g. pixel coordinates): always fails.
YOLO_SLACK = 0.05
# Float noise (in pixels) from converting normalised coordinates; not counted as "outside the image".
PIXEL_EPS = 1e-6
# YOLO split key -> folders beside data.yaml to fall back on (Roboflow writes ``valid``).
YOLO_SPLIT_DIRS = {'train': ('train',), 'val': ('valid', 'val'), 'test': ('test',)}
PROBLEM_KINDS = {
    'clipped': 'boxes clipped to the image',
    'dropped_empty': 'empty boxes dropped',
    'dropped_outside': 'boxes outside the image dropped',
    'size_mismatch': 'annotated image sizes differing from the file (file size used)',
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


# ----------------------------------------------------------------------------- pure box helpers

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


def parse_yolo_line(line: str) -> tuple[int, list[float]]:
    """``'k cx cy w h'`` -> ``(k, [cx, cy, w, h])``, refusing anything that is not normalised YOLO."""
    fields = line.split()
    if len(fields) != 5:
        raise DatasetFormatError(
            f'expected 5 fields "class cx cy w h", got {len(fields)}: {line.strip()!r}',
            'write one box per line as "class cx cy w h" (polygon/segment labels are not supported)')
    try:
        index = int(fields[0])
    except ValueError:
        raise DatasetFormatError(f'class {fields[0]!r} is not an integer index',
                                 'the first field is the 0-based index into data.yaml names') from None
    try:
        values = [float(v) for v in fields[1:]]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise DatasetFormatError(f'coordinates {fields[1:]} are not all numbers',
                                 'cx cy w h must be decimal numbers')
    if any(not -YOLO_SLACK <= v <= 1 + YOLO_SLACK for v in values):
        raise DatasetFormatError(
            f'coordinates {values} are outside [0, 1]',
            'YOLO coordinates are fractions of the image size: divide pixel values by the image '
            'width/height')
    return index, values


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


def _checked_image_size(path: Path, file: PathLike, record: str) -> tuple[int, int]:
    if not path.is_file():
        raise DatasetFormatError(f'image {path} does not exist',
                                 'put the image there or remove the record', file, record)
    try:
        return read_image_size(path)
    except (OSError, SyntaxError, ValueError) as e:  # PIL raises all three for broken files
        raise DatasetFormatError(f'image {path} cannot be decoded ({e})',
                                 'replace the file with a valid image or remove the record',
                                 file, record) from None


def _safe_image_path(root: Path, file_name: str, file: PathLike, record: str) -> Path:
    try:
        return safe_join(root, file_name)
    except ValueError as e:
        raise DatasetFormatError(str(e), 'use a file name relative to the image folder',
                                 file, record) from None


# ----------------------------------------------------------------------------- building a split

class _SplitBuilder:
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
        width, height = _checked_image_size(src, file, record)
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


def _categories(names: Iterable[str]) -> list[dict]:
    return [{'id': i, 'name': name} for i, name in enumerate(names, start=1)]


# ----------------------------------------------------------------------------- YOLO

def read_yolo(src: PathLike, on_invalid: str = 'clip') -> list[ConvertedSplit]:
    """Read a YOLO dataset given its ``data.yaml`` or the folder holding it.

    Class index ``k`` is ``names[k]`` (a list, or a dict {index: name}); category ids are 1..K in
    that order. An image without a label file is an image with no boxes.
    """
    yaml_path = Path(src) / 'data.yaml' if Path(src).is_dir() else Path(src)
    cfg = _load_yaml(yaml_path)
    names = _yolo_names(cfg, yaml_path)
    categories = _categories(names.values())
    category_of = {index: i for i, index in enumerate(names, start=1)}
    splits = [_read_yolo_split(key, _yolo_images_dir(cfg, key, yaml_path), category_of,
                               categories, on_invalid)
              for key in YOLO_SPLIT_DIRS if cfg.get(key) is not None]
    if not splits:
        raise DatasetFormatError('no train/val/test key', 'list the split image folders in it',
                                 yaml_path, 'top level')
    return splits


def _load_yaml(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f'{path}: no such file; pass a YOLO data.yaml or its folder')
    try:
        cfg = yaml.safe_load(path.read_text(encoding='utf-8'))
    except yaml.YAMLError as e:
        mark = getattr(e, 'problem_mark', None)
        record = f'line {mark.line + 1}' if mark else 'whole file'
        raise DatasetFormatError(f'malformed YAML ({e})', 'fix the YAML syntax', path,
                                 record) from None
    if not isinstance(cfg, dict):
        raise DatasetFormatError('not a mapping of keys', 'write train/val/test and names keys',
                                 path, 'whole file')
    return cfg


def _yolo_names(cfg: dict, yaml_path: Path) -> dict[int, str]:
    """``names`` as {class index: name}, in index order."""
    names = cfg.get('names')
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not names:
        raise DatasetFormatError(f'names must be a non-empty list or {{index: name}} dict, got '
                                 f'{names!r}', 'list the class names', yaml_path, 'names')
    try:
        names = {int(k): str(v) for k, v in sorted(names.items(), key=lambda kv: int(kv[0]))}
    except (TypeError, ValueError):
        raise DatasetFormatError(f'names keys must be integers, got {list(names)}',
                                 'map each class index to its name', yaml_path, 'names') from None
    if 'nc' in cfg and cfg['nc'] != len(names):
        raise DatasetFormatError(f'nc is {cfg["nc"]} but names has {len(names)} entries',
                                 'make nc equal the number of names', yaml_path, 'nc')
    return names


def _yolo_images_dir(cfg: dict, key: str, yaml_path: Path) -> Path:
    """The split's image folder: the path in data.yaml if it exists, else the one beside the yaml.

    Roboflow exports write ``../train/images``, which does not resolve from the yaml's folder, and
    copies from other machines carry absolute paths: both fall back to ``<yaml dir>/<split>/images``.
    """
    value = cfg[key]
    if not isinstance(value, str):
        raise DatasetFormatError(f'{key} must be one folder path, got {value!r}',
                                 'point it at the split image folder', yaml_path, key)
    root = yaml_path.parent
    base = root / cfg['path'] if isinstance(cfg.get('path'), str) else root
    candidates = [base / value] + [root / d / 'images' for d in YOLO_SPLIT_DIRS[key]]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise DatasetFormatError(f'no image folder for {key}: tried {[str(c) for c in candidates]}',
                             'fix the path or put the images in one of those folders',
                             yaml_path, f'{key}: {value}')


def _read_yolo_split(split: str, images_dir: Path, category_of: dict[int, int],
                     categories: list[dict], on_invalid: str) -> ConvertedSplit:
    labels_dir = images_dir.parent / 'labels'
    images = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMG_EXTENSIONS)
    stems = Counter(p.stem for p in images)
    for image in images:
        if stems[image.stem] > 1:
            raise DatasetFormatError(f'several images share the stem {image.stem!r}',
                                     'rename them: each label file matches one image by stem',
                                     image, 'image')
    if labels_dir.is_dir():
        for label in sorted(labels_dir.glob('*.txt')):
            if label.stem not in stems:
                raise DatasetFormatError(f'no image named {label.stem}.* in {images_dir}',
                                         'add the image or delete the label file', label,
                                         'whole file')
    builder = _SplitBuilder(split, categories, on_invalid, total=len(images))
    for image in images:
        image_id = builder.add_image(image, image.name, image, 'image')
        label = labels_dir / f'{image.stem}.txt'
        if not label.is_file():
            continue
        for lineno, line in enumerate(label.read_text(encoding='utf-8').splitlines(), start=1):
            if not line.strip():
                continue
            record = f'line {lineno}'
            try:
                index, values = parse_yolo_line(line)
            except DatasetFormatError as e:
                raise e.at(label, record) from None
            if index not in category_of:
                raise DatasetFormatError(
                    f'class index {index} is not in data.yaml names (valid: '
                    f'{sorted(category_of)})', 'fix the label or add the class to names',
                    label, record)
            info = builder.images[image_id]
            bbox = yolo_to_coco_bbox(*values, info['width'], info['height'])
            builder.add_box(image_id, category_of[index], bbox, label, record)
    return builder.finish()


# ----------------------------------------------------------------------------- Pascal VOC

@dataclass
class _VocRecord:
    xml: Path
    filename: str
    size: tuple[int, int] | None
    objects: list[tuple[str, list[float]]]  # (name, [xmin, ymin, xmax, ymax])


def read_voc(src: PathLike, on_invalid: str = 'clip',
             split_name: str = 'train') -> list[ConvertedSplit]:
    """Read a Pascal VOC folder: ``annotations/`` (or ``Annotations/``) XML + ``images/`` (or
    ``JPEGImages/``).

    Splits come from ``ImageSets/Main/<split>.txt`` when present (``trainval`` is skipped when
    ``train`` and ``val`` exist), else every XML goes to ``split_name``. Categories are the sorted
    object names. The ``difficult`` flag has no COCO equivalent: such boxes are kept as ordinary
    ones. The XML ``<size>`` is checked against the image; the image wins, mismatches are counted.
    """
    src = Path(src)
    ann_dir = _first_dir(src, ('annotations', 'Annotations'))
    img_dir = _first_dir(src, ('images', 'JPEGImages'))
    records = {split: [_parse_voc_xml(xml) for xml in xmls]
               for split, xmls in _voc_splits(src, ann_dir, split_name).items()}
    names = sorted({name for recs in records.values() for r in recs for name, _ in r.objects})
    categories = _categories(names)
    category_of = {name: i for i, name in enumerate(names, start=1)}
    splits = []
    for split, recs in records.items():
        builder = _SplitBuilder(split, categories, on_invalid, total=len(recs))
        for rec in recs:
            record = f'<filename> {rec.filename!r}'
            image = _safe_image_path(img_dir, rec.filename, rec.xml, record)
            image_id = builder.add_image(image, rec.filename, rec.xml, record,
                                         declared_size=rec.size)
            for i, (name, box) in enumerate(rec.objects, start=1):
                builder.add_box(image_id, category_of[name], xyxy_to_xywh(*box), rec.xml,
                                f'object #{i} ({name!r})')
        splits.append(builder.finish())
    return splits


def _first_dir(root: Path, names: tuple[str, ...]) -> Path:
    for name in names:
        if (root / name).is_dir():
            return root / name
    raise FileNotFoundError(f'{root}: no {" or ".join(names)} folder; a VOC dataset holds '
                            'annotations/ (XML) and images/')


def _voc_splits(src: Path, ann_dir: Path, split_name: str) -> dict[str, list[Path]]:
    """Split -> XML files, from ImageSets/Main/<split>.txt if any, else all XML in one split."""
    lists = {p.stem: p for p in sorted((src / 'ImageSets' / 'Main').glob('*.txt'))
             if '_' not in p.stem}  # <class>_<split>.txt are per-class lists
    if 'train' in lists and 'val' in lists:
        lists.pop('trainval', None)
    if not lists:
        xmls = sorted(ann_dir.glob('*.xml'))
        if not xmls:
            raise FileNotFoundError(f'{ann_dir}: no .xml annotation files')
        return {split_name: xmls}
    splits = {}
    for split, list_file in lists.items():
        splits[split] = []
        for lineno, line in enumerate(list_file.read_text(encoding='utf-8').splitlines(), 1):
            if line.strip():
                xml = ann_dir / f'{line.split()[0]}.xml'
                if not xml.is_file():
                    raise DatasetFormatError(f'{xml} does not exist',
                                             'add the annotation or remove the line',
                                             list_file, f'line {lineno}')
                splits[split].append(xml)
    return splits


def _parse_voc_xml(path: Path) -> _VocRecord:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        line, column = e.position
        raise DatasetFormatError(f'malformed XML ({e})',
                                 'fix the XML syntax or re-export the annotation', path,
                                 f'line {line}, column {column}') from None
    filename = (root.findtext('filename') or '').strip()
    if not filename:
        raise DatasetFormatError('no <filename>', 'name the image file in <filename>', path,
                                 '<filename>')
    size = None
    if root.find('size') is not None:
        size = tuple(int(_number(root, f'size/{k}', path, '<size>')) for k in ('width', 'height'))
    objects = []
    for i, obj in enumerate(root.iter('object'), start=1):
        name = (obj.findtext('name') or '').strip()
        record = f'object #{i} ({name!r})'
        if not name:
            raise DatasetFormatError('no <name>', 'give every object a class name', path, record)
        box = [_number(obj, f'bndbox/{k}', path, record) for k in ('xmin', 'ymin', 'xmax', 'ymax')]
        objects.append((name, box))
    return _VocRecord(path, filename, size, objects)


def _number(node: ET.Element, tag: str, path: Path, record: str) -> float:
    text = node.findtext(tag)
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        raise DatasetFormatError(f'<{tag}> is {text!r}, not a number',
                                 f'write a number in <{tag}>', path, record)
    return value


# ----------------------------------------------------------------------------- COCO

def check_coco(coco: Any, file: PathLike) -> None:
    """Structural checks of a COCO detection dict: the keys, unique ids, resolvable references.

    Image files and box geometry are checked by :func:`read_coco`, which needs the images.
    """
    if not isinstance(coco, dict) or not all(isinstance(coco.get(k), list)
                                             for k in ('images', 'annotations', 'categories')):
        raise DatasetFormatError('not a COCO detection file',
                                 'it needs "images", "annotations" and "categories" lists',
                                 file, 'top level')
    fields = {'categories': {'id': int, 'name': str}, 'images': {'id': int, 'file_name': str},
              'annotations': {'id': int, 'image_id': int, 'category_id': int, 'bbox': list}}
    for section, required in fields.items():
        seen: set[int] = set()
        for i, item in enumerate(coco[section]):
            bad = [k for k, t in required.items()
                   if not isinstance(item, dict) or not isinstance(item.get(k), t)]
            if bad:
                raise DatasetFormatError(f'missing or mistyped {bad}',
                                         f'give each entry {list(required)}', file,
                                         f'{section}[{i}]')
            if item['id'] in seen:
                raise DatasetFormatError(f'id {item["id"]} is used twice in "{section}"',
                                         'give every entry a unique id', file, f'{section}[{i}]')
            seen.add(item['id'])
    image_ids = {img['id'] for img in coco['images']}
    category_ids = {cat['id'] for cat in coco['categories']}
    for ann in coco['annotations']:
        record = f'annotation id {ann["id"]}'
        if ann['image_id'] not in image_ids:
            raise DatasetFormatError(f'image_id {ann["image_id"]} is not in "images"',
                                     'add the image or remove the annotation', file, record)
        if ann['category_id'] not in category_ids:
            raise DatasetFormatError(f'category_id {ann["category_id"]} is not in "categories"',
                                     'add the category or fix the annotation', file, record)
        bbox = ann['bbox']
        if len(bbox) != 4 or not all(isinstance(v, (int, float)) and math.isfinite(v)
                                     for v in bbox):
            raise DatasetFormatError(f'bbox {bbox} is not 4 numbers [x, y, w, h]',
                                     'write the box as [x, y, w, h] in pixels', file, record)


def load_coco(path: PathLike) -> dict:
    """Read and :func:`check_coco` a COCO json file."""
    try:
        coco = read_json(path)
    except ValueError as e:  # read_json names the file and the line
        raise DatasetFormatError(str(e), 'repair or re-export the JSON file') from None
    check_coco(coco, path)
    return coco


def read_coco(src: PathLike, on_invalid: str = 'clip', split_name: str | None = None,
              image_root: PathLike | None = None) -> list[ConvertedSplit]:
    """Validate and pass through COCO json (a file, or a folder of them: one split per file).

    Category and image ids and names are kept. Each ``file_name`` is resolved under ``image_root``,
    by default the json's folder or, if the first image is not there, its parent (the
    ``annotations/`` + ``images/`` layout this module writes). The split is ``split_name`` or the
    file stem without ``instances_`` (Roboflow's ``train/_annotations.coco.json`` -> ``train``).
    """
    src = Path(src)
    paths = [src] if src.is_file() else (sorted(src.glob('*.json')) or sorted(src.glob('*/*.json')))
    if not paths:
        raise FileNotFoundError(f'{src}: no COCO .json file')
    if split_name and len(paths) > 1:
        raise ValueError(f'{src}: --split-name applies to one json file, found {len(paths)}')
    splits = []
    for path in paths:
        coco = load_coco(path)
        split = split_name or _coco_split_name(path)
        if split in (s.name for s in splits):
            raise DatasetFormatError(f'split name {split!r} is used by two files',
                                     'convert them separately or rename one', path, 'file name')
        root = Path(image_root) if image_root else _coco_image_root(coco, path)
        builder = _SplitBuilder(split, coco['categories'], on_invalid, total=len(coco['images']))
        for img in coco['images']:
            record = f'image id {img["id"]}'
            image = _safe_image_path(root, img['file_name'], path, record)
            declared = (img['width'], img['height']) if 'width' in img and 'height' in img else None
            rel = img['file_name'].removeprefix(f'images/{split}/')  # re-reading our own output
            builder.add_image(image, rel, path, record, image_id=img['id'],
                              declared_size=declared, extra=img)
        for ann in coco['annotations']:
            builder.add_box(ann['image_id'], ann['category_id'], list(ann['bbox']), path,
                            f'annotation id {ann["id"]}', extra=ann)
        splits.append(builder.finish({k: v for k, v in coco.items()
                                      if k not in ('images', 'annotations', 'categories')}))
    return splits


def _coco_split_name(path: Path) -> str:
    stem = path.name.removesuffix('.json').removesuffix('.coco').removeprefix('instances_')
    return path.parent.name if stem.startswith('_annotations') else stem


def _coco_image_root(coco: dict, path: Path) -> Path:
    for root in (path.parent, path.parent.parent):
        if coco['images'] and (root / coco['images'][0]['file_name']).is_file():
            return root
    return path.parent


# ----------------------------------------------------------------------------- conversion & output

def read_dataset(src: PathLike, fmt: str, on_invalid: str = 'clip', split_name: str | None = None,
                 image_root: PathLike | None = None) -> list[ConvertedSplit]:
    """Read ``src`` in format ``fmt`` (one of :data:`FORMATS`) into checked COCO splits."""
    if on_invalid not in ON_INVALID:
        raise ValueError(f'on_invalid must be one of {ON_INVALID}, got {on_invalid!r}')
    if fmt == 'yolo':
        return read_yolo(src, on_invalid)
    if fmt == 'voc':
        return read_voc(src, on_invalid, split_name or 'train')
    if fmt == 'coco':
        return read_coco(src, on_invalid, split_name, image_root)
    raise ValueError(f'format must be one of {FORMATS}, got {fmt!r}')


def write_dataset(splits: list[ConvertedSplit], out: PathLike, image_mode: str = 'copy',
                  overwrite: bool = False) -> None:
    """Write ``out/annotations/<split>.json`` and ``out/images/<split>/`` all or nothing.

    Everything is built in a temporary folder beside ``out`` and renamed into place at the end, so
    on any error ``out`` is untouched and no temporary folder remains.
    """
    if image_mode not in IMAGE_MODES:
        raise ValueError(f'image_mode must be one of {IMAGE_MODES}, got {image_mode!r}')
    out = Path(out)
    _check_out_free(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'{TMP_PREFIX}{out.name}.', dir=out.parent))
    try:
        for split in splits:
            for file_name, src in split.sources.items():
                dst = tmp / file_name
                dst.parent.mkdir(parents=True, exist_ok=True)
                if image_mode == 'copy':
                    shutil.copyfile(src, dst)
                else:
                    os.symlink(src.resolve(), dst)
            atomic_write_json(tmp / 'annotations' / f'{split.name}.json', split.coco)
        if out.exists():  # an empty folder, or --overwrite: set it aside, then delete it
            trash = Path(tempfile.mkdtemp(prefix=f'{TMP_PREFIX}{out.name}.old.', dir=out.parent))
            os.replace(out, trash / 'old')
            os.replace(tmp, out)
            shutil.rmtree(trash)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def convert_dataset(src: PathLike, fmt: str, out: PathLike, on_invalid: str = 'clip',
                    image_mode: str = 'copy', overwrite: bool = False,
                    split_name: str | None = None,
                    image_root: PathLike | None = None) -> list[ConvertedSplit]:
    """Read ``src`` (format ``fmt``) and write it as COCO under ``out``; returns the splits."""
    src_abs, out_abs = Path(src).resolve(), Path(out).resolve()
    if out_abs == src_abs or out_abs in src_abs.parents:
        raise ValueError(f'--out {out} would replace the source {src}; choose another folder')
    _check_out_free(Path(out), overwrite)  # before the slow read, not after it
    splits = read_dataset(src, fmt, on_invalid, split_name, image_root)
    write_dataset(splits, out, image_mode, overwrite)
    return splits


def _check_out_free(out: Path, overwrite: bool) -> None:
    if out.exists() and not overwrite and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f'{out} already exists and is not empty; pass --overwrite to '
                              'replace it')


# ----------------------------------------------------------------------------- reporting

def boxes_per_class(coco: dict) -> dict[str, int]:
    """Box count per category name, every category included (zeros too), in category order."""
    counts = Counter(ann['category_id'] for ann in coco['annotations'])
    return {cat['name']: counts[cat['id']] for cat in coco['categories']}


def split_summary(split: ConvertedSplit) -> str:
    """One line: images, boxes, classes with their box counts, and the problems fixed by kind."""
    coco = split.coco
    per_class = boxes_per_class(coco)
    with_boxes = {ann['image_id'] for ann in coco['annotations']}
    empty = sum(img['id'] not in with_boxes for img in coco['images'])
    present = sum(n > 0 for n in per_class.values())
    counts = ', '.join(f'{name!r}: {n}' for name, n in per_class.items())
    problems = ', '.join(f'{n} {PROBLEM_KINDS[k]}' for k, n in sorted(split.problems.items()))
    return (f'{split.name}: {len(coco["images"])} images ({empty} without boxes), '
            f'{len(coco["annotations"])} boxes, {present}/{len(per_class)} classes {{{counts}}}; '
            f'problems: {problems or "none"}')
