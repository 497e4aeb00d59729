"""Score every image of a synthetic set with a filter detector, resumably, and store the scores.

In: a set folder (``annotations.json`` whose COCO annotations are the layout boxes, in pixels) and a
:class:`~mmgen_det.filters.pr_filter.FilterDetector`. Out, in the set folder::

    pr_scores/<KEY>.jsonl   the resume log: a header line (detector + thresholds), then one line per
                            scored image ({"image_id", "record"} or {"image_id", "error"})
    annotations.json        each image gains "pr_filter": {KEY: record}, merged in atomically at the
                            end (under a lock), next to the scores of other detectors/thresholds

A killed run resumes from the log: images with a complete line are not scored again (lines written
before the detections were stored are resumed as they are: delete the log to get them). Images that
fail to decode are reported, counted, and stored with precision = recall = 0 and an ``error``, so
that any positive threshold in ``SyntheticDetDataset`` drops them deterministically.

Before thresholds are committed to a training config, :func:`kept_at` says what they keep (images,
their layout boxes, per class), with a warning when that is under ``MIN_KEPT_FRACTION`` of the set.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..generation.set_format import (ANNOTATIONS, MANIFEST, PR_FILTER_KEY, SCORES_DIR, kept_ids, passes,
                                     read_annotations)
from ..generation.set_format import ANNOTATIONS_LOCK as LOCK_FILE
from ..utils.io import atomic_write_json, read_json, safe_join
from ..utils.locks import merge_lock
from ..utils.progress import ProgressBar
from .matching import PRScore, check_unit_interval
from .pr_filter import FilterDetector, MatchSettings, detections_record, pr_key, pr_record, score_detections

DEFAULT_GRID = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0)  # holds the default keep thresholds
MIN_KEPT_FRACTION = 0.1  # thresholds keeping less of the images or boxes than this are warned about


@dataclass
class ScoringSummary:
    out_dir: Path
    key: str
    num_images: int
    scored_now: int
    already_done: int
    failed: int

    def line(self) -> str:
        return (f'{self.out_dir}: {self.num_images} images scored under {self.key} '
                f'({self.already_done} already done, {self.scored_now} scored now, '
                f'{self.failed} failed to decode)')


# -- reading the set ------------------------------------------------------------------------------
def load_layouts(out_dir: Path) -> dict[str, Any]:
    """The set's COCO dict, checked to be a finished set with layout boxes."""
    path = out_dir / ANNOTATIONS
    if not path.is_file():
        hint = (f' ({MANIFEST} exists: the set is not finished; resume it with tools/generate.py)'
                if (out_dir / MANIFEST).exists() else '')
        raise FileNotFoundError(f'{path}: no such file{hint}; PR filtering needs a generated set '
                                'whose annotations.json holds the layout boxes')
    coco = read_annotations(path)
    for field in ('images', 'annotations', 'categories'):
        if field not in coco:
            raise ValueError(f"{path}: no '{field}' list; this is not a synthetic set with layouts "
                             '(regenerate it with tools/generate.py)')
    if coco['images'] and not coco['annotations']:
        raise ValueError(f'{path}: {len(coco["images"])} images but no layout boxes at all; '
                         'every image would score recall 1 trivially. Regenerate the set with layouts')
    return coco


def layout_boxes(coco: dict[str, Any]) -> dict[int, tuple[np.ndarray, list[str]]]:
    """image id -> (``xyxy`` boxes, class names), in annotation order (the ``matches`` box indices)."""
    names = {c['id']: c['name'] for c in coco['categories']}
    out: dict[int, tuple[list, list]] = {im['id']: ([], []) for im in coco['images']}
    for ann in coco['annotations']:
        x, y, w, h = ann['bbox']
        out[ann['image_id']][0].append([x, y, x + w, y + h])
        out[ann['image_id']][1].append(names[ann['category_id']])
    return {k: (np.asarray(b, dtype=np.float64).reshape(-1, 4), n) for k, (b, n) in out.items()}


def decode_image(path: Path) -> np.ndarray:
    """BGR ``uint8`` exactly as mmdet's ``LoadImageFromFile`` decodes it; raises ``ValueError`` if not."""
    import mmcv
    try:
        img = mmcv.imfrombytes(path.read_bytes())
    except Exception as e:  # a truncated or foreign file can raise anything from cv2/PIL
        raise ValueError(f'{path}: cannot decode ({type(e).__name__}: {e})') from None
    if img is None:
        raise ValueError(f'{path}: cannot decode (not an image, or truncated)')
    return img


# -- the resume log -------------------------------------------------------------------------------
def log_signature(header: dict[str, Any]) -> tuple:
    """What must agree for two runs to share a log: weights, model/pipeline settings, thresholds
    (not the file paths, which may be spelt differently)."""
    detector = header.get('detector', {})
    return (header.get('key'), detector.get('sha256'), detector.get('config_sha256'),
            json.dumps(header.get('thresholds'), sort_keys=True))


def read_log(path: Path, header: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Finished records by image id; a torn last line (killed mid-write) is cut off the file.

    Refuses a log written with another detector config under the same key (same checkpoint and
    thresholds, different model/pipeline settings) instead of mixing the two.
    """
    if not path.exists():
        return {}
    data = path.read_bytes()
    lines = data.splitlines(keepends=True)
    done: dict[int, dict[str, Any]] = {}
    good_end = 0
    for n, line in enumerate(lines):
        try:
            if not line.endswith(b'\n'):
                raise ValueError('torn line')
            entry = json.loads(line)
        except ValueError:
            break
        good_end += len(line)
        if n == 0:
            old = entry.get('header', {})
            if log_signature(old) != log_signature(header):
                raise ValueError(f'{path} was written with other detector settings:\n  on disk: {old}\n  '
                                 f'now: {header}\nDelete it to rescore, or use the original config')
        elif 'record' in entry:
            done[int(entry['image_id'])] = entry['record']
    if good_end < len(data):
        with open(path, 'r+b') as f:
            f.truncate(good_end)
    return done


def append_lines(path: Path, entries: Sequence[dict[str, Any]]) -> None:
    with open(path, 'ab') as f:
        f.write(b''.join((json.dumps(e) + '\n').encode() for e in entries))
        f.flush()
        os.fsync(f.fileno())


def merge_scores(out_dir: Path, key: str, records: dict[int, dict[str, Any]], field: str = PR_FILTER_KEY) -> None:
    """Put ``records`` under ``image[field][key]`` in annotations.json, keeping every other key; under the
    set's merge lock, so scorers of one set never drop each other's scores."""
    with merge_lock(out_dir / LOCK_FILE):
        coco = read_json(out_dir / ANNOTATIONS)
        for image in coco['images']:
            if image['id'] in records:
                image[field] = {**image.get(field, {}), key: records[image['id']]}
        atomic_write_json(out_dir / ANNOTATIONS, coco)


def failed_record(error: str, detector: dict[str, Any], settings: MatchSettings, num_boxes: int) -> dict:
    """Stored for an image that could not be read: fails every positive threshold."""
    rec = pr_record(PRScore(0.0, 0.0, 0, num_boxes), detector, settings)
    rec['error'] = error
    return rec


# -- scoring --------------------------------------------------------------------------------------
def score_set(out_dir: str | Path, detector: FilterDetector, settings: MatchSettings,
              batch_size: int = 8, progress: bool = True) -> ScoringSummary:
    """Score every image of the set not yet in the log, then merge the log into annotations.json."""
    out_dir = Path(out_dir)
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    coco = load_layouts(out_dir)
    boxes = layout_boxes(coco)
    label_of = (detector.label_map([c['name'] for c in coco['categories']], str(out_dir / ANNOTATIONS))
                if settings.class_aware else None)
    key = pr_key(detector.identity['sha256'], settings)
    header = dict(key=key, detector=detector.identity, thresholds=settings.to_dict())
    log = out_dir / SCORES_DIR / f'{key}.jsonl'
    log.parent.mkdir(parents=True, exist_ok=True)
    done = read_log(log, header)
    if not log.exists() or log.stat().st_size == 0:
        append_lines(log, [dict(header=header)])
    todo = [im for im in coco['images'] if im['id'] not in done]
    already = len(coco['images']) - len(todo)
    bar = ProgressBar(len(coco['images']), desc=f'pr_filter {out_dir.name}', initial=already) if progress else None

    failed: dict[int, dict[str, Any]] = {}
    for start in range(0, len(todo), batch_size):
        batch, images, entries = todo[start:start + batch_size], [], []
        for im in batch:
            try:
                images.append((im, decode_image(safe_join(out_dir, im['file_name']))))
            except ValueError as e:
                print(f'\npr_filter: image {im["id"]} skipped: {e}', flush=True)
                failed[im['id']] = failed_record(str(e), detector.identity, settings, len(boxes[im['id']][0]))
                entries.append(dict(image_id=im['id'], error=str(e)))
        for (im, _), dets in zip(images, detector.predict([img for _, img in images], settings.class_aware)):
            gt, names = boxes[im['id']]
            labels = np.array([label_of[n] for n in names], dtype=np.int64) if label_of else None
            score = score_detections(dets, gt, labels, settings)
            record = pr_record(score, detector.identity, settings, detections_record(dets, score, detector.classes))
            done[im['id']] = record
            entries.append(dict(image_id=im['id'], record=record))
        append_lines(log, entries)
        if bar:
            bar.update(len(batch))
    if bar:
        bar.close()
    merge_scores(out_dir, key, {**done, **failed})
    return ScoringSummary(out_dir, key, len(coco['images']), len(todo) - len(failed), already, len(failed))


# -- reading scores back --------------------------------------------------------------------------
def stored_scores(coco: dict[str, Any], key: str, field: str = PR_FILTER_KEY) -> dict[int, dict[str, Any]]:
    """image id -> the record stored under ``key``; images without one are left out."""
    return {im['id']: im[field][key] for im in coco['images'] if key in im.get(field, {})}


def survival_table(records: Sequence[dict[str, Any]], grid: Sequence[float] = DEFAULT_GRID) -> str:
    """How many images survive each (min_precision, min_recall) pair: rows precision, columns recall."""
    for t in grid:
        check_unit_interval('grid threshold', t)
    head = 'min_P \\ min_R ' + ''.join(f'{r:>8g}' for r in grid)
    rows = [f'{p:>14g}' + ''.join(f'{sum(passes(x, p, r) for x in records):>8d}' for r in grid)
            for p in grid]
    return '\n'.join([head, *rows])


@dataclass(frozen=True)
class Kept:
    """What ``(min_precision, min_recall)`` keeps of a scored set: images, their layout boxes, per class.

    ``per_class`` maps a class name to (boxes kept, boxes in the set).
    """
    min_precision: float | None
    min_recall: float | None
    images: int
    num_images: int
    boxes: int
    num_boxes: int
    per_class: dict[str, tuple[int, int]]

    @property
    def fraction(self) -> float:
        """The smaller of the kept image and box fractions (1.0 for an empty set)."""
        return min(self.images / self.num_images if self.num_images else 1.0,
                   self.boxes / self.num_boxes if self.num_boxes else 1.0)

    def lines(self) -> list[str]:
        def part(kept: int, total: int) -> str:
            return f'{kept}/{total} ({kept / total:.1%})' if total else f'{kept}/0'

        classes = ', '.join(f'{name} {part(*counts)}' for name, counts in self.per_class.items())
        return [f'kept at min_precision={self.min_precision}, min_recall={self.min_recall}: '
                f'{part(self.images, self.num_images)} images, {part(self.boxes, self.num_boxes)} boxes',
                f'  boxes kept per class: {classes}']

    def warning(self) -> str | None:
        if self.fraction >= MIN_KEPT_FRACTION:
            return None
        return (f'min_precision={self.min_precision}, min_recall={self.min_recall} keep '
                f'{self.images}/{self.num_images} images and {self.boxes}/{self.num_boxes} boxes, under '
                f'{MIN_KEPT_FRACTION:.0%} of the set: lower them (the table shows what each pair keeps) or '
                'check that the filter detector finds the objects at all')


def kept_at(coco: dict[str, Any], key: str, min_precision: float | None, min_recall: float | None) -> Kept:
    """What training keeps of ``coco`` with these thresholds on the scores stored under ``key``: the keep
    rule :func:`~mmgen_det.generation.set_format.kept_ids` with ``filter_empty_gt=True``, as the
    experiments and the shipped configs filter (an image without boxes is dropped whatever its scores)."""
    kept = set(kept_ids(coco, dict(filter_empty_gt=True, min_precision=min_precision, min_recall=min_recall,
                                   pr_key=key)))
    names = {c['id']: c['name'] for c in coco['categories']}
    total = Counter(names[a['category_id']] for a in coco['annotations'])
    in_kept = Counter(names[a['category_id']] for a in coco['annotations'] if a['image_id'] in kept)
    return Kept(min_precision, min_recall, len(kept), len(coco['images']), sum(in_kept.values()),
                sum(total.values()), {name: (in_kept[name], total[name]) for name in sorted(total)})
