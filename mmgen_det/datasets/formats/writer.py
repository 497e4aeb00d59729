"""Write converted splits as a COCO dataset folder, and report on them.

In:  :class:`~.common.ConvertedSplit` objects from any reader.
Out: ``OUT/annotations/<split>.json`` + ``OUT/images/<split>/...`` (written all or nothing), which
     mmdet reads with ``data_root=OUT, ann_file='annotations/<split>.json', data_prefix=dict(img='')``;
     ``OUT/conversion_report.json`` (:data:`REPORT`: the source, the options, and per split the
     counts, the problems fixed, the path fallbacks and the images kept with a warning or skipped),
     which also marks ``OUT`` as the converter's, the only kind of folder ``overwrite`` replaces;
     and one report line per split (images, boxes per class, problems fixed).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from mmgen_det.utils.io import TMP_PREFIX, PathLike, atomic_write_json, make_temp_dir
from .common import PROBLEM_KINDS, ConvertedSplit, in_id_order

IMAGE_MODES = ('copy', 'symlink')
REPORT = 'conversion_report.json'


def write_dataset(splits: list[ConvertedSplit], out: PathLike, image_mode: str = 'copy',
                  overwrite: bool = False, source: dict[str, Any] | None = None) -> None:
    """Write ``out/annotations/<split>.json``, ``out/images/<split>/`` and ``out/`` :data:`REPORT`
    all or nothing; ``source`` (what was converted, and how) goes into the report.

    Everything is built in a temporary folder beside ``out`` and renamed into place at the end, so
    on any error ``out`` is untouched and no temporary folder remains. Categories are written in id
    order (:func:`~.common.in_id_order`), the order mmdet numbers labels in.
    """
    if image_mode not in IMAGE_MODES:
        raise ValueError(f'image_mode must be one of {IMAGE_MODES}, got {image_mode!r}')
    out = Path(out)
    check_out_free(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(f'{TMP_PREFIX}{out.name}.', out.parent)
    try:
        for split in splits:
            for file_name, src in split.sources.items():
                dst = tmp / file_name
                dst.parent.mkdir(parents=True, exist_ok=True)
                if image_mode == 'copy':
                    shutil.copyfile(src, dst)
                else:
                    os.symlink(src.resolve(), dst)
            coco = {**split.coco, 'categories': in_id_order(split.coco['categories'])}
            atomic_write_json(tmp / 'annotations' / f'{split.name}.json', coco)
        atomic_write_json(tmp / REPORT, conversion_report(splits, source or {}), indent=2)
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


def check_out_free(out: Path, overwrite: bool) -> None:
    """Refuse a non-empty ``out``, unless ``overwrite`` and the converter wrote it (it holds
    :data:`REPORT`): a folder of other files is never deleted. Checked before the slow read, and
    again before writing."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return
    if not overwrite:
        raise FileExistsError(f'{out} already exists and is not empty; pass --overwrite to '
                              f'replace it (only a folder this converter wrote, with its {REPORT})')
    if not (out / REPORT).is_file():
        raise FileExistsError(f'{out} was not written by the converter (it holds no {REPORT}), so '
                              '--overwrite does not replace it: choose another --out, or delete '
                              'the folder yourself if nothing in it is needed')


def conversion_report(splits: list[ConvertedSplit], source: dict[str, Any]) -> dict[str, Any]:
    """What :data:`REPORT` holds: ``source``, and per split its counts, problems and notes."""
    report = {'written_by': 'mmgen_det.datasets.convert_dataset', **source, 'splits': {}}
    for split in splits:
        with_boxes = {ann['image_id'] for ann in split.coco['annotations']}
        report['splits'][split.name] = {
            'images': len(split.coco['images']),
            'images_without_boxes': sum(img['id'] not in with_boxes
                                        for img in split.coco['images']),
            'boxes': len(split.coco['annotations']),
            'boxes_per_class': boxes_per_class(split.coco),
            'problems': dict(sorted(split.problems.items())),
            'fallbacks': split.fallbacks,
            'image_notes': split.image_notes}
    return report


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
