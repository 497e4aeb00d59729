"""Read YOLO, Pascal VOC and COCO detection datasets as tools export them, into checked COCO.

In:  a dataset folder or file in one of :data:`FORMATS`, or ``'auto'`` to tell the format from what
     is on disk (:func:`detect_format`).
Out: one :class:`ConvertedSplit` per split (a COCO dict whose ``file_name`` s are
     ``images/<split>/<name>``, plus the source file of each image), and from :func:`convert_dataset`
     a folder ``DIR/annotations/<split>.json`` + ``DIR/images/<split>/...`` that mmdet reads with
     ``data_root=DIR, ann_file='annotations/<split>.json', data_prefix=dict(img='')``, with
     ``DIR/conversion_report.json`` saying what was converted, how, and what was fixed or fell back.

One module per format (:mod:`.yolo`, :mod:`.voc`, :mod:`.coco`) finds and reads the files;
:mod:`.common` holds the checks every reader applies and :mod:`.writer` the output and the report.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Sequence

from mmgen_det.utils.io import PathLike
from mmgen_det.utils.text import first_few
from .coco import check_coco, coco_evidence, load_coco, read_coco
from .common import (IMG_EXTENSIONS, ON_BAD_IMAGE, ON_INVALID, PIXEL_EPS, PROBLEM_KINDS,
                     ConvertedSplit, DatasetFormatError, check_disjoint_splits, clip_bbox,
                     fix_bbox, read_image_size, xyxy_to_xywh, yolo_to_coco_bbox)
from .voc import read_voc, xml_folders
from .writer import (IMAGE_MODES, REPORT, boxes_per_class, check_out_free, split_summary,
                     write_dataset)
from .yolo import YOLO_SLACK, YOLO_SPLIT_DIRS, parse_yolo_line, read_yolo, yolo_evidence

FORMATS = ('yolo', 'voc', 'coco')
FORMAT_CHOICES = ('auto', ) + FORMATS

__all__ = ['FORMATS', 'FORMAT_CHOICES', 'ON_INVALID', 'ON_BAD_IMAGE', 'IMAGE_MODES', 'REPORT',
           'IMG_EXTENSIONS', 'PIXEL_EPS', 'YOLO_SLACK', 'YOLO_SPLIT_DIRS', 'PROBLEM_KINDS',
           'DatasetFormatError', 'ConvertedSplit', 'detect_format', 'resolve_format',
           'read_dataset', 'convert_dataset', 'write_dataset', 'read_yolo', 'read_voc', 'read_coco',
           'load_coco', 'check_coco', 'parse_yolo_line', 'yolo_to_coco_bbox', 'xyxy_to_xywh',
           'clip_bbox', 'fix_bbox', 'read_image_size', 'boxes_per_class', 'split_summary']


def detect_format(src: PathLike) -> str:
    """Tell the format of ``src`` from what is on disk: ``'yolo'``, ``'voc'`` or ``'coco'``.

    A ``.json`` file is COCO and a ``.yaml`` / ``.yml`` file YOLO. In a folder: COCO jsons (in it or
    one level down); a yaml with ``names:`` (likewise), ``images/`` + ``labels/`` or images with
    ``.txt`` labels beside them (YOLO); folders of ``<annotation>`` XML (VOC). Raises a
    :class:`DatasetFormatError` naming what was found when that is none or several of these.
    """
    src = Path(src)
    if not src.exists():
        raise FileNotFoundError(f'{src}: no such file or folder')
    if src.is_file():
        suffix = src.suffix.lower()
        if suffix in ('.json', '.yaml', '.yml'):
            return 'coco' if suffix == '.json' else 'yolo'
        raise DatasetFormatError(f'cannot tell the dataset format of a {suffix or "bare"} file',
                                 'pass a YOLO .yaml, a COCO .json or the dataset folder, or '
                                 '--format', src, 'format detection')
    found = {'yolo': yolo_evidence(src),
             'voc': [f'VOC XML in {d.relative_to(src).as_posix()}/' for d in xml_folders(src)],
             'coco': coco_evidence(src)}
    found = {fmt: evidence for fmt, evidence in found.items() if evidence}
    if len(found) == 1:
        return next(iter(found))
    if found:
        what = '; '.join(f'{fmt}: {", ".join(evidence)}' for fmt, evidence in found.items())
        raise DatasetFormatError(f'it looks like several formats ({what})',
                                 f'pass --format {" or --format ".join(found)}', src,
                                 'format detection')
    listing = sorted(p.name + '/' * p.is_dir() for p in src.iterdir())
    shown = first_few(listing, 10)
    raise DatasetFormatError(
        f'no YOLO yaml or labels, VOC XML or COCO json found (it holds: {shown or "nothing"})',
        'pass --format yolo|voc|coco, with --classes for YOLO labels without names, or '
        '--ann-dir/--img-dir for VOC XML elsewhere', src, 'format detection')


def resolve_format(src: PathLike, fmt: str, ann_dir: PathLike | None = None,
                   img_dir: PathLike | None = None) -> str:
    """``fmt`` itself, or for ``'auto'``: VOC when its folders are given, else :func:`detect_format`."""
    if fmt not in FORMAT_CHOICES:
        raise ValueError(f'format must be one of {FORMAT_CHOICES}, got {fmt!r}')
    if fmt != 'auto':
        return fmt
    return 'voc' if ann_dir is not None or img_dir is not None else detect_format(src)


def read_dataset(src: PathLike, fmt: str = 'auto', on_invalid: str = 'clip',
                 split_name: str | None = None, image_root: PathLike | None = None,
                 classes: Sequence[str] | None = None, ann_dir: PathLike | None = None,
                 img_dir: PathLike | None = None, on_bad_image: str = 'fail',
                 allow_outside_root: bool = False) -> list[ConvertedSplit]:
    """Read ``src`` in format ``fmt`` (one of :data:`FORMAT_CHOICES`) into checked, disjoint COCO
    splits.

    ``split_name`` names the split of a YOLO folder without splits, a VOC dataset without
    ``ImageSets/Main`` (both default ``train``) or a single COCO json (default: from its name).
    ``classes`` is for YOLO, ``ann_dir`` / ``img_dir`` for VOC, ``image_root`` for COCO; given to
    another format they are an error, not silently ignored. ``on_bad_image`` (one of
    :data:`ON_BAD_IMAGE`) says what happens to an image training could not decode;
    ``allow_outside_root`` lets the dataset's paths and links lead out of its folder.
    """
    if on_invalid not in ON_INVALID:
        raise ValueError(f'on_invalid must be one of {ON_INVALID}, got {on_invalid!r}')
    if on_bad_image not in ON_BAD_IMAGE:
        raise ValueError(f'on_bad_image must be one of {ON_BAD_IMAGE}, got {on_bad_image!r}')
    fmt = resolve_format(src, fmt, ann_dir, img_dir)
    options = {'yolo': {'classes': classes}, 'voc': {'ann_dir': ann_dir, 'img_dir': img_dir},
               'coco': {'image_root': image_root}}
    misplaced = [k for other, kw in options.items() if other != fmt for k, v in kw.items()
                 if v is not None]
    if misplaced:
        raise ValueError(f'{src} is read as {fmt}: {", ".join(misplaced)} does not apply to it')
    checks = {'on_bad_image': on_bad_image, 'allow_outside_root': allow_outside_root}
    if fmt == 'yolo':
        splits = read_yolo(src, on_invalid, classes, split_name or 'train', **checks)
    elif fmt == 'voc':
        splits = read_voc(src, on_invalid, split_name or 'train', ann_dir, img_dir, **checks)
    else:
        splits = read_coco(src, on_invalid, split_name, image_root, **checks)
    check_disjoint_splits(splits, src)
    return splits


def convert_dataset(src: PathLike, fmt: str, out: PathLike, on_invalid: str = 'clip',
                    image_mode: str = 'copy', overwrite: bool = False,
                    split_name: str | None = None, image_root: PathLike | None = None,
                    classes: Sequence[str] | None = None, ann_dir: PathLike | None = None,
                    img_dir: PathLike | None = None, on_bad_image: str = 'fail',
                    allow_outside_root: bool = False, splits: list[ConvertedSplit] | None = None
                    ) -> list[ConvertedSplit]:
    """Read ``src`` (format ``fmt``, possibly ``'auto'``) and write it as COCO under ``out``.

    Returns the splits; the keyword arguments are those of :func:`read_dataset` and
    :func:`write_dataset`. ``splits``: :func:`read_dataset` of ``src`` with these options, where the
    caller has it (its images are not decoded again). Each path fallback and each image kept with a warning or skipped is
    printed to stderr, and recorded with the options in ``out/`` :data:`REPORT`.
    """
    src_abs, out_abs = Path(src).resolve(), Path(out).resolve()
    if out_abs == src_abs or out_abs in src_abs.parents:
        raise ValueError(f'--out {out} would replace the source {src}; choose another folder')
    check_out_free(Path(out), overwrite)  # before the slow read, not after it
    fmt = resolve_format(src, fmt, ann_dir, img_dir)
    if splits is None:
        splits = read_dataset(src, fmt, on_invalid, split_name, image_root, classes, ann_dir, img_dir,
                              on_bad_image, allow_outside_root)
    for split in splits:
        for note in split.fallbacks:
            print(f'warning: {split.name}: {note}', file=sys.stderr)
        for image, note in split.image_notes.items():
            print(f'warning: {split.name}: {image}: {note}', file=sys.stderr)
    options = dict(on_invalid=on_invalid, on_bad_image=on_bad_image,
                   allow_outside_root=allow_outside_root, image_mode=image_mode,
                   split_name=split_name, classes=classes and list(classes),
                   image_root=image_root, ann_dir=ann_dir, img_dir=img_dir)
    options = {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in options.items()}
    write_dataset(splits, out, image_mode, overwrite,
                  source=dict(source=str(src_abs), format=fmt, options=options))
    return splits
