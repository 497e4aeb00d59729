"""A static HTML gallery of a synthetic set: look at it, and choose the filter thresholds, before training.

In: a set folder (``annotations.json`` with layouts, generation records and any stored scores), and
optionally the real annotations its layouts came from. Out, in ``out_dir``::

    index.html, gallery.js, gallery.css   the page (no server, no network: opens from file://)
    data.js                               every image's boxes, scores and generation record
    thumbs/<image id>.jpg                 one thumbnail per image, made once (resumable, in parallel)
    crops/{real,synthetic}/<label>_<k>.jpg  the per-class strips of real and generated objects

The page applies the keep rule of ``SyntheticDetDataset`` (a JavaScript port of
:func:`~mmgen_det.generation.set_format.kept_ids`) to the stored scores for thresholds chosen with its
controls, and prints the ``filter_cfg`` that keeps the same images.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

from ..filters.matching import DEFAULT_MIN_PRECISION, DEFAULT_MIN_RECALL
from ..generation.set_format import ANNOTATIONS, CONFIG, FEATURE_DISTANCE_KEY, PR_FILTER_KEY, read_annotations
from ..utils.io import atomic_write, read_json, safe_join
from . import gallery_data
from .thumbnails import ImageJob, Output, make_thumbnails

PAGE_DIR = Path(__file__).with_name('gallery_page')
PAGE_FILES = ('index.html', 'gallery.js', 'gallery.css')
THUMB_SIZE = 256
CROP_SIZE = 96


@dataclass(frozen=True)
class RealSource:
    """The real annotations to compare with, the folder their file names are relative to, and whether
    they are the set's own layout source (then the generation records' real image ids refer to them)."""
    ann_file: Path
    root: Path
    recorded: bool


@dataclass(frozen=True)
class GallerySummary:
    index: Path
    num_images: int
    num_boxes: int
    thumbnails: str

    def line(self) -> str:
        return f'{self.index}: {self.num_images} images, {self.num_boxes} layout boxes; {self.thumbnails}'


def real_source(set_dir: Path, real_ann: str | Path | None = None,
                real_root: str | Path | None = None) -> RealSource | None:
    """The real data the set's layouts came from, as ``generation_config.json`` records it, unless given.

    The root is ``real_root``, else the generator's image root (copy-paste, image grounding), else
    the folder holding ``annotations/`` (``tools/convert_dataset.py``'s layout), else the json's folder.
    Recorded paths may be relative to the set (a work dir moves with its sets and data).
    """
    cfg_path = set_dir / CONFIG
    cfg = read_json(cfg_path) if cfg_path.is_file() else {}

    def recorded(path: str | None) -> Path | None:
        return (set_dir / path).resolve() if path else None
    layout_ann = recorded(cfg.get('layout', {}).get('ann_file'))
    if real_ann is None:
        if layout_ann is None or not layout_ann.is_file():
            return None
        real_ann = layout_ann
    elif not Path(real_ann).is_file():
        raise FileNotFoundError(f'--real {real_ann}: no such annotation file')
    ann = Path(real_ann).resolve()
    generator = cfg.get('generator', {})
    generator_root = recorded(generator.get('img_root') or generator.get('crops', {}).get('img_root'))
    root = (Path(real_root) if real_root else generator_root
            or (ann.parent.parent if ann.parent.name == 'annotations' else ann.parent))
    return RealSource(ann, root.resolve(), ann == layout_ann)


def url(path: Path, start: Path) -> str:
    """``path`` as a link relative to the page, so the gallery and the set can move together."""
    return quote(Path(os.path.relpath(path, start)).as_posix())


def crop_entries(crops: list[gallery_data.Crop], kind: str, out_dir: Path, jobs: dict[Path, list[Output]],
                 source: Callable[[Any], Path]) -> list[list[dict[str, Any]]]:
    """Add each crop's output to its source image's job; returns the page's strips, one list per class."""
    strips: dict[int, list[dict[str, Any]]] = {}
    for crop in crops:
        k = len(strips.setdefault(crop.label, []))
        rel = f'crops/{kind}/{crop.label}_{k}.jpg'
        jobs.setdefault(source(crop.image), []).append(Output(str(out_dir / rel), CROP_SIZE, crop.box))
        strips[crop.label].append(dict(src=rel, image=crop.image))
    return [strips.get(label, []) for label in range(max(strips, default=-1) + 1)]


def real_part(source: RealSource, coco: dict[str, Any], names: list[str], out_dir: Path,
              jobs: dict[Path, list[Output]]) -> tuple[dict[str, Any], list[list[dict[str, Any]]]]:
    """The page's real-data summary (sizes per class, links to the frames the records name) and crops."""
    real = read_json(source.ann_file)
    files = {im['id']: im['file_name'] for im in real['images']}
    named = gallery_data.referenced_frames(coco) if source.recorded else set()
    summary = dict(gallery_data.real_summary(real, names), ann_file=str(source.ann_file), root=str(source.root),
                   frames={i: url(safe_join(source.root, f), out_dir) for i, f in files.items() if i in named})
    crops = [gallery_data.Crop(files[c.image], c.box, c.label)
             for c in gallery_data.pick_crops(gallery_data.boxes_by_image(real, names), len(names))]
    return summary, crop_entries(crops, 'real', out_dir, jobs, lambda f: safe_join(source.root, f))


def build_gallery(set_dir: str | Path, out_dir: str | Path, real_ann: str | Path | None = None,
                  real_root: str | Path | None = None, workers: int = 2, progress: bool = True,
                  title: str | None = None) -> GallerySummary:
    """Write the gallery of ``set_dir`` into ``out_dir`` (see the module docstring); rerunning it
    makes only missing thumbnails and refreshes the scores."""
    set_dir, out_dir = Path(set_dir).resolve(), Path(out_dir).resolve()
    coco = read_annotations(set_dir / ANNOTATIONS)
    names = gallery_data.class_names(coco)
    boxes = gallery_data.boxes_by_image(coco, names)
    files = {im['id']: safe_join(set_dir, im['file_name']) for im in coco['images']}
    jobs = {files[i]: [Output(str(out_dir / 'thumbs' / f'{i}.jpg'), THUMB_SIZE)] for i in files}
    images = [gallery_data.image_entry(im, boxes[im['id']], url(files[im['id']], out_dir), f"thumbs/{im['id']}.jpg")
              for im in coco['images']]
    crops = dict(synthetic=crop_entries(gallery_data.pick_crops(boxes, len(names)), 'synthetic', out_dir, jobs,
                                        files.__getitem__))
    real = None
    source = real_source(set_dir, real_ann, real_root)
    if source is not None:
        real, crops['real'] = real_part(source, coco, names, out_dir, jobs)
    summary = make_thumbnails([ImageJob(str(src), tuple(outs)) for src, outs in jobs.items()], workers,
                              progress, desc=f'gallery {set_dir.name}')
    unreadable = sorted(summary.failed)
    write_page(out_dir, dict(
        title=title or set_dir.name, set_dir=str(set_dir), classes=names, images=images,
        pr_keys=gallery_data.stored_keys(coco, PR_FILTER_KEY), pr_info=gallery_data.scorer_info(coco),
        feature_keys=gallery_data.stored_keys(coco, FEATURE_DISTANCE_KEY), real=real, crops=crops,
        defaults=dict(min_precision=DEFAULT_MIN_PRECISION, min_recall=DEFAULT_MIN_RECALL),
        unreadable=unreadable[:20], num_unreadable=len(unreadable)))
    return GallerySummary(out_dir / 'index.html', len(images), sum(len(b) for b in boxes.values()), summary.line())


def write_page(out_dir: Path, data: dict[str, Any]) -> None:
    """``data.js`` (a script, not a json: browsers do not let a page read a json file from file://),
    then the page's own files; each written atomically."""
    with atomic_write(out_dir / 'data.js', 'w') as f:
        f.write('window.GALLERY_DATA = ')
        json.dump(data, f, separators=(',', ':'), ensure_ascii=False)
        f.write(';\n')
    for name in PAGE_FILES:
        with atomic_write(out_dir / name) as f:
            f.write((PAGE_DIR / name).read_bytes())
