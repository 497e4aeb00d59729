"""Read Pascal VOC XML as labelling tools export it.

In:  a folder holding, anywhere up to three levels down, one folder of VOC XML (root
     ``<annotation>``) and its images: ``Annotations/`` + ``JPEGImages/`` (the devkit, e.g. under
     ``VOC2012/``), ``annotations/`` + ``images/``, ``annots/`` + ``imgs/``, any names, or XML and
     images in the same folder; or Roboflow's ``train/``, ``valid/``, ``test/`` of XML + images; or
     the two folders given as ``ann_dir`` / ``img_dir``.
Out: one :class:`~.common.ConvertedSplit` per split (``ImageSets/Main/<split>.txt`` beside the XML
     folder, the split folders, or everything in ``split_name``). Categories are the sorted object
     names. An XML's image is its ``<filename>`` in the image folder or, when that is missing, wrong
     or absolute (another machine's path), the image named like the XML (counted in the report).

Every record is accounted for: XML files whose image does not exist are refused together, in one
error; images of a folder read whole that no XML names are left out and counted. The XML and list
files, like the images, must lie in the dataset folder unless ``allow_outside_root``.
"""
from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from mmgen_det.utils.io import PathLike
from .common import (SHOWN, SPLITS, ConvertedSplit, DatasetFormatError, SplitBuilder,
                     categories_from_names, check_class_name, check_inside, dataset_roots,
                     has_images, image_files, read_text, safe_image_path, split_name_of,
                     xyxy_to_xywh)

SEARCH_DEPTH = 3  # VOCtrainval/VOCdevkit/VOC2012/Annotations: the XML folder is 3 levels down
# Preferred image folder when several sit beside the XML one (the devkit has PNG mask folders too).
IMAGE_DIR_NAMES = ('jpegimages', 'images', 'imgs', 'img', 'jpeg images', 'pictures', 'photos')
VOC_ROOT = re.compile(rb'<annotation[\s>]')
XML_ENCODING = re.compile(rb'<\?xml[^>]*encoding')


@dataclass
class _VocRecord:
    xml: Path
    filename: str
    size: tuple[int, int] | None
    objects: list[tuple[str, list[float]]]  # (name, [xmin, ymin, xmax, ymax])


def read_voc(src: PathLike, on_invalid: str = 'clip', split_name: str = 'train',
             ann_dir: PathLike | None = None, img_dir: PathLike | None = None,
             on_bad_image: str = 'fail', allow_outside_root: bool = False) -> list[ConvertedSplit]:
    """Read a Pascal VOC dataset found under ``src`` (see the module docstring for the layouts).

    ``ann_dir`` / ``img_dir`` (absolute, or relative to the working folder or to ``src``) skip the
    search. The ``difficult`` flag has no COCO equivalent: such boxes are kept as ordinary ones. The
    XML ``<size>`` is checked against the image; the image wins, mismatches are counted. Images
    must lie in ``src`` or the folders given, links followed, unless ``allow_outside_root``.
    """
    src = Path(src)
    records: dict[str, list[tuple[_VocRecord, Path]]] = {}
    folders = _voc_folders(src, ann_dir, img_dir)
    given = [] if ann_dir is None and img_dir is None else [d for _, *dirs in folders for d in dirs]
    roots = dataset_roots(src, *given, allow_outside_root=allow_outside_root)
    read_whole = []  # (split, image folder) of the XML folders read without an ImageSets list
    for split, xml_dir, image_dir in folders:
        lists = _split_lists(xml_dir)
        for name, xmls in _voc_splits(xml_dir, split or split_name, lists, roots).items():
            records.setdefault(name, []).extend((_parse_voc_xml(x, roots), image_dir) for x in xmls)
        if not lists:
            read_whole.append((split or split_name, image_dir))
    by_stem = {image_dir: _images_by_stem(image_dir) for *_, image_dir in folders}
    located = _locate_images([r for recs in records.values() for r in recs], by_stem)
    left_out = _images_without_xml(read_whole, records, located, by_stem)
    names = sorted({name for recs in records.values() for r, _ in recs for name, _ in r.objects})
    categories = categories_from_names(names)
    category_of = {name: i for i, name in enumerate(names, start=1)}
    splits = []
    for split, recs in records.items():
        builder = SplitBuilder(split, categories, on_invalid, total=len(recs), roots=roots,
                               on_bad_image=on_bad_image)
        if left_out[split]:
            builder.problems['images_without_xml'] = left_out[split]
        for rec, image_dir in recs:
            image, rel, by_xml_name = located[rec.xml]
            if by_xml_name:
                builder.problems['image_by_xml_name'] += 1
            record = f'<filename> {rec.filename!r}'
            image_id = builder.add_image(image, rel, rec.xml, record, declared_size=rec.size)
            if image_id is None:  # skipped as undecodable: its boxes go with it
                builder.problems['boxes_of_skipped_images'] += len(rec.objects)
                continue
            for i, (name, box) in enumerate(rec.objects, start=1):
                builder.add_box(image_id, category_of[name], xyxy_to_xywh(*box), rec.xml,
                                f'object #{i} ({name!r})')
        splits.append(builder.finish())
    return splits


def _voc_folders(src: Path, ann_dir: PathLike | None = None,
                img_dir: PathLike | None = None) -> list[tuple[str | None, Path, Path]]:
    """``(split or None, XML folder, image folder)`` for each XML folder of the dataset.

    Several XML folders are several splits only when they are named after splits (Roboflow);
    otherwise the choice is the user's.
    """
    if ann_dir is not None:
        xml_dirs = [_given_dir(src, ann_dir, 'ann_dir')]
    else:
        xml_dirs = xml_folders(src)
    if not xml_dirs:
        raise FileNotFoundError(f'{src}: no folder of VOC .xml annotations (<annotation> files) '
                                f'found in it or {SEARCH_DEPTH} levels down; pass --ann-dir')
    images = None if img_dir is None else _given_dir(src, img_dir, 'img_dir')
    if len(xml_dirs) == 1:
        return [(None, xml_dirs[0], images or _image_dir(xml_dirs[0]))]
    splits = [split_name_of(d.name) for d in xml_dirs]
    if images is None and set(splits) <= set(SPLITS) and len(set(splits)) == len(splits):
        return [(split, d, _image_dir(d)) for split, d in zip(splits, xml_dirs)]
    found = ', '.join(d.relative_to(src).as_posix() for d in xml_dirs)
    raise DatasetFormatError(f'several folders hold VOC XML: {found}',
                             'pass the one to convert with --ann-dir (and its images with '
                             '--img-dir), or ann_dir= / img_dir=', src, 'folder search')


def xml_folders(src: Path) -> list[Path]:
    """Folders under ``src`` (itself included, hidden ones skipped) whose first XML is VOC."""
    found, level = [], [src]
    for _ in range(SEARCH_DEPTH + 1):
        found += [d for d in level if _is_voc_xml(min(d.glob('*.xml'), default=None))]
        level = [c for d in level for c in sorted(d.iterdir())
                 if c.is_dir() and not c.name.startswith('.')]
    return found


def _is_voc_xml(path: Path | None) -> bool:
    """Whether the file starts like a VOC annotation (read 4 kB, not the whole XML)."""
    if path is None:
        return False
    with open(path, 'rb') as f:
        return bool(VOC_ROOT.search(f.read(4096)))


def _given_dir(src: Path, folder: PathLike, what: str) -> Path:
    for path in (Path(folder), src / folder):
        if path.is_dir():
            return path
    raise FileNotFoundError(f'{what} {folder}: no such folder (also tried {src / folder})')


def _image_dir(xml_dir: Path) -> Path:
    """The XML folder itself if it holds images, else its one image sibling (or the preferred
    name among several), else its parent if that holds images."""
    if has_images(xml_dir):
        return xml_dir
    siblings = [d for d in sorted(xml_dir.parent.iterdir())
                if d.is_dir() and d != xml_dir and not d.name.startswith('.') and has_images(d)]
    preferred = [d for d in siblings if d.name.lower() in IMAGE_DIR_NAMES]
    if len(siblings) == 1 or len(preferred) == 1:
        return (preferred or siblings)[0]
    if not siblings and has_images(xml_dir.parent):
        return xml_dir.parent
    found = ', '.join(d.name for d in siblings) or 'none'
    raise DatasetFormatError(f'cannot tell which folder holds the images (folders with images '
                             f'beside it: {found})', 'pass --img-dir (img_dir=)', xml_dir,
                             'image folder')


def _split_lists(xml_dir: Path) -> dict[str, Path]:
    """Split -> its ``ImageSets/Main/<split>.txt`` beside the XML folder (``trainval`` left out when
    ``train`` and ``val`` are there)."""
    lists = {split_name_of(p.stem): p
             for p in sorted((xml_dir.parent / 'ImageSets' / 'Main').glob('*.txt'))
             if '_' not in p.stem}  # <class>_<split>.txt are per-class lists
    if 'train' in lists and 'val' in lists:
        lists.pop('trainval', None)
    return lists


def _voc_splits(xml_dir: Path, split_name: str, lists: dict[str, Path],
                roots: list[Path] | None) -> dict[str, list[Path]]:
    """Split -> XML files, from the ImageSets ``lists`` if any, else all XML in one split."""
    if not lists:
        xmls = sorted(xml_dir.glob('*.xml'))
        if not xmls:
            raise FileNotFoundError(f'{xml_dir}: no .xml annotation files')
        return {split_name: xmls}
    splits = {}
    for split, list_file in lists.items():
        splits[split] = []
        check_inside(list_file, roots, list_file, 'whole file')
        for lineno, line in enumerate(read_text(list_file).splitlines(), 1):
            if line.strip():
                xml = xml_dir / f'{line.split()[0]}.xml'
                check_inside(xml, roots, list_file, f'line {lineno}')
                if not xml.is_file():
                    raise DatasetFormatError(f'{xml} does not exist',
                                             'add the annotation or remove the line',
                                             list_file, f'line {lineno}')
                splits[split].append(xml)
    return splits


def _locate_images(recs: list[tuple[_VocRecord, Path]],
                   by_stem: dict[Path, dict[str, list[Path]]]) -> dict[Path, tuple[Path, str, bool]]:
    """XML file -> :func:`_find_image` of it; the XML files without an image are refused in one
    error, not one per run."""
    located, missing = {}, []
    for rec, image_dir in recs:
        try:
            located[rec.xml] = _find_image(rec, image_dir, by_stem[image_dir])
        except DatasetFormatError as e:
            missing.append(e)
    if len(missing) == 1:
        raise missing[0]
    if missing:
        shown = '; '.join(f'{e.file}: {e.problem}' for e in missing[:SHOWN])
        more = f'; and {len(missing) - SHOWN} more' if len(missing) > SHOWN else ''
        raise DatasetFormatError(f'{len(missing)} XML files name no image that exists: {shown}{more}',
                                 missing[0].fix, Path(missing[0].file).parent, 'XML files')
    return located


def _images_without_xml(read_whole: list[tuple[str, Path]],
                        records: dict[str, list[tuple[_VocRecord, Path]]],
                        located: dict[Path, tuple[Path, str, bool]],
                        by_stem: dict[Path, dict[str, list[Path]]]) -> Counter:
    """Split -> images of its folder that no XML names (left out, counted): only for XML folders
    read whole, since an ImageSets list leaves out the images of other splits on purpose."""
    left_out: Counter = Counter()
    for split, image_dir in read_whole:
        named = {located[rec.xml][0].resolve() for rec, d in records[split] if d == image_dir}
        left_out[split] += sum(image.resolve() not in named
                               for images in by_stem[image_dir].values() for image in images)
    return left_out


def _images_by_stem(folder: Path) -> dict[str, list[Path]]:
    found = defaultdict(list)
    for image in image_files(folder):
        found[image.stem].append(image)
    return found


def _find_image(rec: _VocRecord, image_dir: Path,
                by_stem: dict[str, list[Path]]) -> tuple[Path, str, bool]:
    """``(image, its name under images/<split>/, whether found by the XML's name)``.

    ``<filename>`` is tried first; tools often write a wrong one (renamed files, another machine's
    absolute path), so the image named like the XML comes next; else ``<filename>``'s error.
    """
    record = f'<filename> {rec.filename!r}'
    try:
        if not rec.filename:
            raise DatasetFormatError('no <filename>', 'name the image file in <filename>',
                                     rec.xml, '<filename>')
        image = safe_image_path(image_dir, rec.filename, rec.xml, record)
        if image.is_file():
            return image, rec.filename, False
        raise DatasetFormatError(f'image {image} does not exist',
                                 'put the image there, fix <filename>, or name the XML file after '
                                 'its image', rec.xml, record)
    except DatasetFormatError as error:
        matches = by_stem.get(rec.xml.stem, [])
        if len(matches) > 1:
            raise DatasetFormatError(f'{error.problem}, and several images are named like the XML '
                                     f'file: {[p.name for p in matches]}', 'fix <filename>',
                                     rec.xml, record) from None
        if not matches:
            raise
        return matches[0], matches[0].name, True


def _parse_voc_xml(path: Path, roots: list[Path] | None) -> _VocRecord:
    check_inside(path, roots, path, 'whole file')
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        with open(path, 'rb') as f:
            if not XML_ENCODING.match(f.read(200)):  # undeclared, so UTF-8: Latin-1 is "invalid token"
                read_text(path)  # raises the encoding error, if that is the problem
        line, column = e.position
        raise DatasetFormatError(f'malformed XML ({e})',
                                 'fix the XML syntax or re-export the annotation', path,
                                 f'line {line}, column {column}') from None
    filename = (root.findtext('filename') or '').strip()
    size = None
    if root.find('size') is not None:
        size = tuple(int(_number(root, f'size/{k}', path, '<size>')) for k in ('width', 'height'))
    objects = []
    for i, obj in enumerate(root.iter('object'), start=1):
        name = (obj.findtext('name') or '').strip()
        record = f'object #{i} ({name!r})'
        if not name:
            raise DatasetFormatError('no <name>', 'give every object a class name', path, record)
        check_class_name(name, path, record)
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
