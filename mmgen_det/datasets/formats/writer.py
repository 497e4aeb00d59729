"""Write converted splits as a COCO dataset folder, and report on them.

In:  :class:`~.common.ConvertedSplit` objects from any reader.
Out: ``OUT/annotations/<split>.json`` + ``OUT/images/<split>/...`` (written all or nothing), which
     mmdet reads with ``data_root=OUT, ann_file='annotations/<split>.json', data_prefix=dict(img='')``;
     and one report line per split (images, boxes per class, problems fixed).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

from mmgen_det.utils.io import TMP_PREFIX, PathLike, atomic_write_json
from .common import PROBLEM_KINDS, ConvertedSplit

IMAGE_MODES = ('copy', 'symlink')


def write_dataset(splits: list[ConvertedSplit], out: PathLike, image_mode: str = 'copy',
                  overwrite: bool = False) -> None:
    """Write ``out/annotations/<split>.json`` and ``out/images/<split>/`` all or nothing.

    Everything is built in a temporary folder beside ``out`` and renamed into place at the end, so
    on any error ``out`` is untouched and no temporary folder remains.
    """
    if image_mode not in IMAGE_MODES:
        raise ValueError(f'image_mode must be one of {IMAGE_MODES}, got {image_mode!r}')
    out = Path(out)
    check_out_free(out, overwrite)
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


def check_out_free(out: Path, overwrite: bool) -> None:
    """Refuse a non-empty ``out`` unless ``overwrite``: checked before the slow read, and again
    before writing."""
    if out.exists() and not overwrite and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f'{out} already exists and is not empty; pass --overwrite to '
                              'replace it')


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
