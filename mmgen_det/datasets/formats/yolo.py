"""Read YOLO detection datasets as Ultralytics, Roboflow, CVAT and Label Studio export them.

In:  a yaml of any name (``names``, ``train``/``val``/``test``, optional ``path``); a folder holding
     exactly one yaml with ``names:`` (or, if none, one level down); or a folder without one:
     ``images/`` + ``labels/`` (flat, or with split subfolders ``images/train``...),
     ``<split>/images`` + ``<split>/labels``, or images with their ``.txt`` labels beside them.
     Class names come from ``classes``, else the yaml, else a :data:`CLASS_FILES` file.
Out: one :class:`~.common.ConvertedSplit` per split (``valid`` -> ``val``; a folder without splits is
     the single split ``train``: splitting it is the caller's choice). Class index ``k`` is the
     ``k``-th name, category id ``k + 1``. Segmentation lines become their polygon's box (counted).

A yaml or list path that does not exist as written is looked for by its last parts (an exporter's
absolute paths): each such fallback is recorded in the split's ``fallbacks``. Every file read (yaml,
lists, class names, labels, images) must stay in the dataset folder (the yaml's folder, or the
folder given) unless ``allow_outside_root``.

Every label file is accounted for: a label folder that pairs with no image folder, label files
without an image and a split whose images mostly lack the label files lying elsewhere are refused,
each in one error; an image without a label file is a background image, kept and counted.
"""
from __future__ import annotations

import math
import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import yaml

from mmgen_det.utils.io import PathLike
from mmgen_det.utils.text import first_few
from .common import (SHOWN, ConvertedSplit, DatasetFormatError, SplitBuilder,
                     categories_from_names, check_class_name, check_inside, check_unique_names,
                     dataset_roots, has_images, image_files, is_image, read_text, split_name_of,
                     yolo_to_coco_bbox)

CLASS_FILES = ('classes.txt', 'obj.names', 'classes.names', '_darknet.labels')  # _darknet: Roboflow
# A YOLO field within this much of [0, 1] is an exporter's rounding: the box is fixed per
# ``on_invalid``. Farther out, the file is not normalised YOLO (e.g. pixel coordinates): always fails.
YOLO_SLACK = 0.05
# Yaml split key -> split folders beside the yaml to fall back on (Roboflow writes ``valid``).
YOLO_SPLIT_DIRS = {'train': ('train',), 'val': ('valid', 'val'), 'test': ('test',)}
NAMES_KEY = re.compile(r'^names\s*:', re.MULTILINE)
AS_WRITTEN = 'as written'


@dataclass
class _Split:
    name: str
    images: list[Path]
    fallbacks: list[str] = field(default_factory=list)


def parse_yolo_line(line: str) -> tuple[int, list[float]]:
    """``'k cx cy w h'`` or a segment ``'k x1 y1 ... xn yn'`` (n >= 3) -> ``(k, [cx, cy, w, h])``,
    refusing anything that is not normalised YOLO."""
    fields = line.split()
    if len(fields) != 5 and (len(fields) < 7 or len(fields) % 2 == 0):
        raise DatasetFormatError(
            f'expected 5 fields "class cx cy w h" or a polygon "class x1 y1 x2 y2 x3 y3 ...", '
            f'got {len(fields)}: {line.strip()!r}',
            'write one object per line as "class cx cy w h" or "class x1 y1 ... xn yn" (n >= 3)')
    try:
        index = int(fields[0])
    except ValueError:
        raise DatasetFormatError(f'class {fields[0]!r} is not an integer index',
                                 'the first field is the 0-based index into the class names') from None
    try:
        values = [float(v) for v in fields[1:]]
    except ValueError:
        values = []
    if len(values) != len(fields) - 1 or not all(math.isfinite(v) for v in values):
        raise DatasetFormatError(f'coordinates {fields[1:]} are not all numbers',
                                 'coordinates must be decimal numbers')
    if any(not -YOLO_SLACK <= v <= 1 + YOLO_SLACK for v in values):
        raise DatasetFormatError(
            f'coordinates {values} are outside [0, 1]',
            'YOLO coordinates are fractions of the image size: divide pixel values by the image '
            'width/height')
    if len(values) > 4:
        xs, ys = values[0::2], values[1::2]
        values = [(min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2,
                  max(xs) - min(xs), max(ys) - min(ys)]
    return index, values


def read_yolo(src: PathLike, on_invalid: str = 'clip', classes: Sequence[str] | None = None,
              split_name: str = 'train', on_bad_image: str = 'fail',
              allow_outside_root: bool = False) -> list[ConvertedSplit]:
    """Read a YOLO dataset given its yaml or its folder (see the module docstring for the layouts).

    ``classes`` (class names in index order) overrides the yaml and class files; ``split_name``
    names the split of a folder without splits. An image without a label file has no boxes.
    """
    src = Path(src)
    folder = src.parent if src.is_file() else src
    yaml_path = src if src.is_file() else find_yolo_yaml(src)
    roots = dataset_roots(folder, allow_outside_root=allow_outside_root)
    if yaml_path:
        check_inside(yaml_path, roots, yaml_path, 'whole file')
    cfg = load_yaml(yaml_path) if yaml_path else {}
    splits = _yaml_splits(cfg, yaml_path, roots) if yaml_path else _folder_splits(src, split_name)
    names, names_source = _class_names(classes, cfg, yaml_path, src, splits, roots)
    categories = categories_from_names(names.values())
    category_of = {index: i for i, index in enumerate(names, start=1)}
    _check_label_folders(splits, roots)
    labels = [_labels_of(split) for split in splits]
    for split, split_labels in zip(splits, labels):
        _check_unpaired(split, split_labels, folder)
    return [_read_split(split, split_labels, category_of, categories, names_source, on_invalid,
                        on_bad_image, roots) for split, split_labels in zip(splits, labels)]


# ----------------------------------------------------------------------------- finding the data

def _names_yamls(folder: Path) -> list[Path]:
    """The yamls with ``names:`` in ``folder``, else in its subfolders (an export unzipped into a
    folder of its own)."""
    for pattern in ('*.y*ml', '*/*.y*ml'):
        found = [p for p in sorted(folder.glob(pattern)) if p.suffix.lower() in ('.yaml', '.yml')
                 and p.is_file() and NAMES_KEY.search(p.read_text(encoding='utf-8', errors='replace'))]
        if found:
            return found
    return []


def find_yolo_yaml(folder: Path) -> Path | None:
    """The one yaml with ``names:`` in ``folder`` (or one level down); None if there is none."""
    yamls = _names_yamls(folder)
    if len(yamls) > 1:
        raise DatasetFormatError(f'{len(yamls)} YOLO yaml files with names: '
                                 f'{[p.relative_to(folder).as_posix() for p in yamls]}',
                                 f'pass the one to convert as the source, e.g. {yamls[0]}',
                                 folder, 'yaml files')
    return yamls[0] if yamls else None


def yolo_evidence(src: Path) -> list[str]:
    """What in the folder ``src`` looks like YOLO (for format detection)."""
    found = [f'YOLO yaml {p.relative_to(src).as_posix()} (names:)' for p in _names_yamls(src)]
    children = [d for d in sorted(src.iterdir()) if d.is_dir() and not d.name.startswith('.')]
    for d in [src] + children:
        rel = d.relative_to(src).as_posix()
        if (d / 'images').is_dir() and (d / 'labels').is_dir():
            found.append(f'{"" if rel == "." else rel + "/"}images/ + labels/')
        files = list(d.iterdir())
        stems = {p.stem for p in files if is_image(p)}
        if any(p.suffix == '.txt' and p.stem in stems for p in files):
            found.append(f'images with .txt labels beside them in {rel}/')
    return found


def load_yaml(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f'{path}: no such file; pass a YOLO yaml or its folder')
    try:
        cfg = yaml.safe_load(read_text(path))
    except yaml.YAMLError as e:
        mark = getattr(e, 'problem_mark', None)
        record = f'line {mark.line + 1}' if mark else 'whole file'
        raise DatasetFormatError(f'malformed YAML ({e})', 'fix the YAML syntax', path,
                                 record) from None
    if not isinstance(cfg, dict):
        raise DatasetFormatError('not a mapping of keys', 'write train/val/test and names keys',
                                 path, 'whole file')
    return cfg


def _candidates(value: str, bases: Sequence[Path],
                fallbacks: Sequence[Path] = ()) -> dict[Path, str]:
    """Where a path written in a yaml or list may be, most likely first, each with how it is found:
    under each base :data:`AS_WRITTEN`, as Ultralytics resolves it (Roboflow's ``../train/images``
    without its ``../`` too); then, as fallbacks, its last 3 and 2 parts under each base,
    ``fallbacks``, and its last part. The fallbacks cover an exporter's absolute paths (``/`` or
    ``\\`` separated) that do not exist here."""
    parts = [p for p in re.split(r'[\\/]+', value) if p not in ('', '.', '..')
             and not p.endswith(':')]
    found = [(b / value, AS_WRITTEN) for b in bases]
    if value.startswith('../'):
        found += [(b / value[3:], AS_WRITTEN) for b in bases]
    for k in (3, 2):
        found += [(b.joinpath(*parts[-k:]), f'its last {k} path parts') for b in bases
                  if len(parts) >= k]
    found += [(p, 'the split folder beside the yaml') for p in fallbacks]
    found += [(b / parts[-1], 'its last path part alone') for b in bases if parts]
    candidates: dict[Path, str] = {}
    for path, how in found:
        candidates.setdefault(path, how)
    return candidates


def _yaml_splits(cfg: dict, yaml_path: Path, roots: list[Path] | None) -> list[_Split]:
    """Each of ``train``/``val``/``test``: a folder, a .txt list of images, or a list of either."""
    root = yaml_path.parent
    base = root / cfg['path'] if isinstance(cfg.get('path'), str) and cfg['path'] else root
    bases = [base, root] if base.is_dir() else [root]
    splits = []
    for key, dirs in YOLO_SPLIT_DIRS.items():
        value = cfg.get(key)
        if value in (None, '', []):
            unlisted = _unlisted_split_folder(root, dirs, yaml_path, key)
            if unlisted is None:
                continue
            value = unlisted.relative_to(root).as_posix()
            listed_note = (f'{yaml_path.name} has no {key}: key; used {value}/, the export\'s {key} '
                           'split folder beside it')
        else:
            listed_note = None
        entries = value if isinstance(value, list) else [value]
        if not all(isinstance(e, str) and e for e in entries):
            raise DatasetFormatError(f'{key} must be a path or a list of paths, got {value!r}',
                                     'point it at the split image folder or .txt image list',
                                     yaml_path, key)
        images, fallbacks = [], []
        for entry in entries:
            record = f'{key}: {entry}'
            tried = _candidates(entry, bases, [root / d / 'images' for d in dirs]
                                + [root / 'images' / d for d in dirs])
            path = next((p for p in tried if p.exists()), None)
            if path is None:
                raise DatasetFormatError(
                    f'no image folder or list for {key}: tried {[str(p) for p in tried]}',
                    'fix the path in the yaml, or put the images in one of those folders',
                    yaml_path, record)
            check_inside(path, roots, yaml_path, record)
            if tried[path] != AS_WRITTEN:
                fallbacks.append(f'{yaml_path.name}: {key}: {entry} does not exist here; used '
                                 f'{path} ({tried[path]})')
            if path.is_file():
                images += _listed_images(path, bases, roots, fallbacks)
            else:
                images += image_files(path, True)
        splits.append(_Split(key, images, fallbacks + [listed_note] * bool(listed_note)))
    if not splits:
        raise DatasetFormatError('no train/val/test key', 'list the split image folders in it',
                                 yaml_path, 'top level')
    return splits


def _unlisted_split_folder(root: Path, dirs: Sequence[str], yaml_path: Path,
                           key: str) -> Path | None:
    """A split's image folder an export wrote beside the yaml without listing it (Roboflow's
    ``test/images`` under a yaml with only ``train`` and ``val``): left out, its images would be
    neither trained on nor held out, and the runner would carve a test split from the training one.
    Two such folders (``val/`` and ``valid/``) are refused: either could be the split."""
    found = [d for d in [*(root / d / 'images' for d in dirs), *(root / 'images' / d for d in dirs)]
             if d.is_dir() and image_files(d, True)]
    if len(found) > 1:
        raise DatasetFormatError(f'{" and ".join(map(str, found))} are both the {key} split',
                                 f'list the {key} folder in the yaml ({key}: ...), or merge the '
                                 'folders into one', yaml_path, f'{key} (not listed)')
    return found[0] if found else None


def _listed_images(list_file: Path, bases: list[Path], roots: list[Path] | None,
                   fallbacks: list[str]) -> list[Path]:
    """The images of a .txt list, one path per line (``./x`` is relative to the list's folder);
    lines found by a fallback are summed up in one note appended to ``fallbacks``."""
    images, by_fallback = [], []
    for lineno, line in enumerate(read_text(list_file).splitlines(), start=1):
        if line.strip():
            tried = _candidates(line.strip(), [list_file.parent, *bases])
            image = next((p for p in tried if p.is_file()), None)
            if image is None:
                raise DatasetFormatError(f'image {line.strip()} not found (tried {len(tried)} '
                                         f'places, first {next(iter(tried))})',
                                         'fix the path or put the image there', list_file,
                                         f'line {lineno}')
            check_inside(image, roots, list_file, f'line {lineno}')
            if tried[image] != AS_WRITTEN:
                by_fallback.append(f'line {lineno}, {line.strip()} -> {image} ({tried[image]})')
            images.append(image)
    if by_fallback:
        fallbacks.append(f'{list_file.name}: {len(by_fallback)} of {len(images)} image paths do '
                         f'not exist here and were found by a fallback, first {by_fallback[0]}')
    return images


def _folder_splits(src: Path, split_name: str) -> list[_Split]:
    """The splits of a folder without a yaml, in the first layout that matches."""
    subfolders = [d for d in sorted(src.iterdir()) if d.is_dir() and not d.name.startswith('.')]
    images_dir = src / 'images'
    if images_dir.is_dir() and has_images(images_dir):
        found = [(split_name, images_dir, image_files(images_dir))]
    elif images_dir.is_dir():
        found = [(split_name_of(d.name), d, image_files(d, True))
                 for d in sorted(images_dir.iterdir()) if d.is_dir()]
    elif any((d / 'images').is_dir() for d in subfolders):
        found = [(split_name_of(d.name), d / 'images', image_files(d / 'images', True))
                 for d in subfolders if (d / 'images').is_dir()]
    elif has_images(src):
        found = [(split_name, src, image_files(src))]
    else:  # CVAT's obj_train_data/: images with their .txt beside them
        found = [(split_name_of(d.name), d, image_files(d)) for d in subfolders]
    folders = defaultdict(list)
    for name, folder, images in found:
        if images:
            folders[name].append(folder)
    for name, dirs in folders.items():
        if len(dirs) > 1:
            raise DatasetFormatError(
                f'{" and ".join(map(str, dirs))} are both split {name!r} (valid and validation are '
                'read as val, default as train)', 'merge them into one folder, or rename one',
                src, 'split folders')
    splits = [_Split(name, images) for name, _, images in found if images]
    if not splits:
        raise DatasetFormatError(
            'no images found', 'give the YOLO yaml, or lay the folder out as images/ + labels/, '
            '<split>/images + <split>/labels, or images with their .txt labels beside them',
            src, 'folder layout')
    order = list(YOLO_SPLIT_DIRS)
    return sorted(splits, key=lambda s: order.index(s.name) if s.name in order else len(order))


def label_candidates(image: Path) -> list[Path]:
    """Ultralytics' rule (the last ``/images/`` becomes ``/labels/``), then the .txt beside it."""
    head, sep, tail = image.as_posix().rpartition('/images/')
    beside = image.with_suffix('.txt')
    return [Path(f'{head}/labels/{tail}').with_suffix('.txt'), beside] if sep else [beside]


# ----------------------------------------------------------------------------- names and labels

def _class_names(classes: Sequence[str] | None, cfg: dict, yaml_path: Path | None, src: Path,
                 splits: list[_Split], roots: list[Path] | None) -> tuple[dict[int, str], str]:
    """``({class index: name}, where the names came from)``."""
    if classes is not None:
        if not classes:
            raise ValueError('classes must be a non-empty list of names')
        names = [check_class_name(str(c).strip(), None, f'--classes item {k}')
                 for k, c in enumerate(classes, start=1)]
        check_unique_names(dict(enumerate(names)), 'indices', None, '--classes')
        return dict(enumerate(names)), 'the --classes list'
    if yaml_path and cfg.get('names') is not None:
        return _yaml_names(cfg, yaml_path), f'{yaml_path.name} names'
    root = yaml_path.parent if yaml_path else src
    folders = [root, root / 'labels']
    for split in (s for s in splits if s.images):  # e.g. labels/train/ and labels/
        label_dir = label_candidates(split.images[0])[0].parent
        folders += [label_dir, label_dir.parent]
    for folder in dict.fromkeys(folders):
        for name in CLASS_FILES:
            if (folder / name).is_file():
                check_inside(folder / name, roots, folder / name, 'whole file')
                return _names_file(folder / name), name
    has = f'{yaml_path.name} has no names' if yaml_path else 'no YOLO yaml with names:'
    raise DatasetFormatError(
        f'no class names: {has}, and no {", ".join(CLASS_FILES)} in {root} or its labels folder',
        "pass the names in class index order with --classes 'name0,name1,...' (classes=[...]), "
        'or write classes.txt beside the images/labels folders, one name per line', root,
        'class names')


def _names_file(path: Path) -> dict[int, str]:
    """A class names file as {class index: name}: line k names class k - 1. Only a line feed (or
    CR LF) ends a line: ``str.splitlines`` also splits at other control characters, which would shift
    the indices after them. A blank line is refused, but for those at the end."""
    lines = read_text(path).split('\n')
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DatasetFormatError('no class names in it', 'write one name per line', path,
                                 'whole file')
    names = {k: check_class_name(line.strip(), path, f'line {k + 1}')
             for k, line in enumerate(lines)}
    check_unique_names(names, 'indices', path, 'whole file')
    return names


def _yaml_names(cfg: dict, yaml_path: Path) -> dict[int, str]:
    """``names`` as {class index: name}, in index order."""
    names = cfg['names']
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not names:
        raise DatasetFormatError(f'names must be a non-empty list or {{index: name}} dict, got '
                                 f'{names!r}', 'list the class names', yaml_path, 'names')
    try:
        names = dict(sorted(((int(k), v) for k, v in names.items()), key=lambda kv: kv[0]))
    except (TypeError, ValueError):
        raise DatasetFormatError(f'names keys must be integers, got {list(names)}',
                                 'map each class index to its name', yaml_path, 'names') from None
    names = {k: check_class_name(v, yaml_path, f'names[{k}]') for k, v in names.items()}
    if 'nc' in cfg and cfg['nc'] != len(names):
        raise DatasetFormatError(f'nc is {cfg["nc"]} but names has {len(names)} entries',
                                 'make nc equal the number of names', yaml_path, 'nc')
    check_unique_names(names, 'indices', yaml_path, 'names')
    return names


def _labels_of(split: _Split) -> list[Path | None]:
    """Each image's label file, None where it has none; two images sharing one are refused."""
    candidates = [label_candidates(image) for image in split.images]
    owners = Counter(paths[0] for paths in candidates)
    for image, paths in zip(split.images, candidates):
        if owners[paths[0]] > 1:
            raise DatasetFormatError(f'several images share the stem {image.stem!r}',
                                     'rename them: each label file matches one image by stem',
                                     image, 'image')
    return [next((p for p in paths if p.is_file()), None) for paths in candidates]


def _label_folders(splits: list[_Split]) -> dict[Path, Path]:
    """``labels/`` folder -> the ``images/`` folder it mirrors, for the splits' images under an
    ``images/`` folder (Ultralytics' rule)."""
    found = {}
    for image in (image for split in splits for image in split.images):
        head, sep, _ = image.as_posix().rpartition('/images/')
        if sep:
            found.setdefault(Path(head) / 'labels', Path(head) / 'images')
    return {labels: images for labels, images in found.items() if labels.is_dir()}


def _check_label_folders(splits: list[_Split], roots: list[Path] | None) -> None:
    """Refuse label files in a ``labels/`` folder that pair with no image: ``labels/X/a.txt`` labels
    ``images/X/a.*``. A label folder whose image folder is missing or empty (``labels/train/`` beside
    ``images/train_original/``) or label files without their image lose boxes without a word."""
    used = sorted({image.parent for split in splits for image in split.images})
    orphans: list[Path] = []
    for labels_root, images_root in _label_folders(splits).items():
        check_inside(labels_root, roots, labels_root, 'label folder')
        for folder, _, files in os.walk(labels_root):
            texts = sorted(f for f in files if f.endswith('.txt') and f not in CLASS_FILES)
            if not texts:
                continue
            paired = images_root / Path(folder).relative_to(labels_root)
            stems = {p.stem for p in paired.iterdir() if is_image(p)} if paired.is_dir() else set()
            if not stems:
                images = [str(d) for d in used if d.is_relative_to(images_root)][:SHOWN]
                raise DatasetFormatError(
                    f'it pairs with no image folder: {paired} holds no images (the images are in '
                    f'{", ".join(images)})', 'labels/X/a.txt labels images/X/a.*: rename the label '
                    'folder or the image folder so that they match, or delete the label folder if '
                    'it labels no image', folder, 'label folder')
            orphans += [Path(folder) / t for t in texts if Path(t).stem not in stems]
    if orphans:
        raise DatasetFormatError(
            f'{len(orphans)} label files have no image of their name in the image folder: '
            f'{first_few(orphans, SHOWN)}', 'add the images, or delete the label files (a renamed or '
            'deleted image leaves its label behind)', orphans[0].parent, 'label files')


def _check_unpaired(split: _Split, labels: list[Path | None], folder: Path) -> None:
    """Refuse a split whose images mostly have no label file while label files named like them lie
    elsewhere in the dataset folder: they are these images' labels, where YOLO does not look, and
    the split would train on images without boxes. Searched only then: it walks the folder."""
    missing = {image.stem: image for image, label in zip(split.images, labels) if label is None}
    if len(missing) * 2 <= len(split.images):
        return
    stray = sorted(p for p in folder.rglob('*.txt') if p.stem in missing)
    if stray:
        raise DatasetFormatError(
            f'{len(missing)} of {len(split.images)} images of split {split.name!r} have no label '
            f'file, but {len(stray)} label files named like them lie elsewhere, e.g. {stray[0]} for '
            f'{missing[stray[0].stem]}', 'put each label file where YOLO looks for it: the image '
            'path with its last images/ replaced by labels/ and .txt for its extension, or beside '
            'the image', folder, f'split {split.name}')


def _read_split(split: _Split, labels: list[Path | None], category_of: dict[int, int],
                categories: list[dict], names_source: str, on_invalid: str, on_bad_image: str,
                roots: list[Path] | None) -> ConvertedSplit:
    # names under images/<split>/: relative to the split's common folder, as unique as the sources
    common = Path(os.path.commonpath([str(p.parent.absolute()) for p in split.images] or ['/']))
    builder = SplitBuilder(split.name, categories, on_invalid, total=len(split.images),
                           roots=roots, on_bad_image=on_bad_image)
    for image, label in zip(split.images, labels):
        image_id = builder.add_image(image, image.absolute().relative_to(common).as_posix(),
                                     image, 'image')
        if label is None:
            if image_id is not None:
                builder.problems['images_without_label_file'] += 1
            continue
        check_inside(label, roots, label, 'label file')
        lines = read_text(label).splitlines()
        if image_id is None:  # skipped as undecodable: its boxes go with it
            builder.problems['boxes_of_skipped_images'] += sum(bool(ln.strip()) for ln in lines)
            continue
        for lineno, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            record = f'line {lineno}'
            try:
                index, values = parse_yolo_line(line)
            except DatasetFormatError as e:
                raise e.at(label, record) from None
            if index not in category_of:
                raise DatasetFormatError(
                    f'class index {index} is not in {names_source} (valid: '
                    f'{sorted(category_of)})', f'fix the label or add the class to {names_source}',
                    label, record)
            if len(line.split()) > 5:
                builder.problems['polygon_to_box'] += 1
            info = builder.images[image_id]
            bbox = yolo_to_coco_bbox(*values, info['width'], info['height'])
            builder.add_box(image_id, category_of[index], bbox, label, record)
    return builder.finish(fallbacks=split.fallbacks)
