"""Read COCO detection json: a file, a folder of one json per split, or Roboflow's split folders.

In:  ``x.json``; or a folder holding ``train.json``, ``instances_val2017.json``... (directly, or one
     level down as in ``annotations/`` or Roboflow's ``train/_annotations.coco.json``).
Out: one :class:`~.common.ConvertedSplit` per json, ids, names and extra keys passed through, named
     from the file (``instances_`` dropped) or, for ``_annotations*.json``, from its folder
     (``valid`` -> ``val``). Each image file is found under the json's folder, its parent, an
     ``images/`` folder beside either, or the split's folder beside ``annotations/``.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from mmgen_det.utils.io import PathLike, read_json
from .common import (ConvertedSplit, DatasetFormatError, SplitBuilder, check_class_name,
                     check_inside, check_unique_names, dataset_roots, not_utf8, safe_image_path,
                     split_name_of)

# A json is taken for COCO when one of these keys is in its first bytes (LVIS puts annotations first).
COCO_KEYS = ('"images"', '"annotations"')
HEAD_BYTES = 1 << 20


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
    for i, category in enumerate(coco['categories']):
        check_class_name(category['name'], file, f'categories[{i}]')
    check_unique_names({c['id']: c['name'] for c in coco['categories']}, 'ids', file, 'categories')
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
    except UnicodeDecodeError as e:
        raise not_utf8(path, e) from None
    except ValueError as e:  # read_json names the file and the line
        raise DatasetFormatError(str(e), 'repair or re-export the JSON file') from None
    check_coco(coco, path)
    return coco


def coco_jsons(src: Path) -> list[Path]:
    """The json files of a COCO folder: those directly in it, else those one level down."""
    return sorted(src.glob('*.json')) or sorted(src.glob('*/*.json'))


def coco_evidence(src: Path) -> list[str]:
    """What in the folder ``src`` looks like COCO: the jsons whose start names images/annotations.

    Only the start is read, so that detection stays fast on 500 MB files; a json without these
    keys (Label Studio's ``notes.json`` beside YOLO labels) is not evidence.
    """
    found = []
    for path in coco_jsons(src):
        with open(path, encoding='utf-8', errors='replace') as f:
            head = f.read(HEAD_BYTES)
        if any(key in head for key in COCO_KEYS):
            found.append(f'COCO json {path.relative_to(src).as_posix()}')
    return found


def read_coco(src: PathLike, on_invalid: str = 'clip', split_name: str | None = None,
              image_root: PathLike | None = None, on_bad_image: str = 'fail',
              allow_outside_root: bool = False) -> list[ConvertedSplit]:
    """Validate and pass through COCO json (a file, or a folder of them: one split per file).

    Category and image ids and names are kept. Each ``file_name`` is resolved under ``image_root``,
    by default the json's folder, its parent, an ``images/`` folder beside either, or the split's
    folder beside the json's (COCO 2017's ``annotations/`` + ``val2017/``), whichever holds the
    first image. ``split_name`` names the
    split of a single json. The jsons must lie in ``src`` (or a file's folder) and the images in
    their folder, links followed, unless ``allow_outside_root``.
    """
    src = Path(src)
    json_roots = dataset_roots(src.parent if src.is_file() else src,
                               allow_outside_root=allow_outside_root)
    paths = [src] if src.is_file() else coco_jsons(src)
    if not paths:
        raise FileNotFoundError(f'{src}: no COCO .json file (looked in it and one level down)')
    if split_name and len(paths) > 1:
        raise ValueError(f'{src}: --split-name applies to one json file, found {len(paths)}')
    splits = []
    for path in paths:
        check_inside(path, json_roots, path, 'whole file')
        coco = load_coco(path)
        split = split_name or _coco_split_name(path)
        if split in (s.name for s in splits):
            raise DatasetFormatError(f'split name {split!r} is used by two files',
                                     'convert them separately or rename one', path, 'file name')
        root = Path(image_root) if image_root else _image_root(coco, path, split)
        builder = SplitBuilder(split, coco['categories'], on_invalid, total=len(coco['images']),
                               roots=dataset_roots(root, allow_outside_root=allow_outside_root),
                               on_bad_image=on_bad_image)
        for img in coco['images']:
            record = f'image id {img["id"]}'
            image = safe_image_path(root, img['file_name'], path, record)
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
    """``instances_val2017.json`` -> ``val2017``; Roboflow's ``valid/_annotations.coco.json`` -> ``val``."""
    stem = path.name.removesuffix('.json').removesuffix('.coco').removeprefix('instances_')
    return split_name_of(path.parent.name if stem.startswith('_annotations') else stem)


def _image_root(coco: dict, path: Path, split: str) -> Path:
    """The folder the ``file_name`` s are relative to: the first candidate holding the first image."""
    here, up = path.parent, path.parent.parent
    if coco['images']:
        for root in (here, up, here / 'images', up / 'images', up / split, up / 'images' / split):
            if (root / coco['images'][0]['file_name']).is_file():
                return root
    return path.parent
