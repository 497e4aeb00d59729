"""A generated set on disk, and which of its images training keeps: the one definition of both.

The writer, the scorers, ``SyntheticDetDataset``, the experiment stages and the gallery all read a set;
this module imports neither mmdet nor torch, so each of them, the gallery included, reaches the format
without the others. One folder per set::

    images/000000123.jpg      the images (IMAGE_DIR)
    manifest.jsonl            the writer's resume log, one line per finished image (MANIFEST)
    generation_config.json    what determines the pixels (CONFIG)
    annotations.json          COCO (ANNOTATIONS); each image carries, besides COCO's keys,
                                "generation": {...}                        how it was made
                                "pr_filter": {KEY: {"precision", "recall", ...}}    PR filter scores
                                "feature_distance": {KEY: {"distance", ...}}        feature distances
    pr_scores/<KEY>.jsonl     the PR scorer's resume log (SCORES_DIR)
    .generation.lock, .annotations.lock   a generation run's lock, the scorers' merge lock

Scores are keyed by the scorer's identity (checkpoint hash and thresholds), so several coexist.

:func:`kept_ids` is the keep rule: what ``SyntheticDetDataset(filter_cfg=...)`` trains on. The
dataset, the experiment stages' counts and splits, the PR scorer's summary and the gallery (whose page
ports it to JavaScript, tested against this function) all use it, so what is reported kept is what
training keeps.
"""
from __future__ import annotations

from typing import Any

from ..utils.io import PathLike, read_json
from ..utils.keys import check_keys

IMAGE_DIR = 'images'
MANIFEST = 'manifest.jsonl'
CONFIG = 'generation_config.json'
ANNOTATIONS = 'annotations.json'
SCORES_DIR = 'pr_scores'
GENERATION_LOCK = '.generation.lock'
ANNOTATIONS_LOCK = '.annotations.lock'

#: an image's keys in annotations.json besides COCO's (also a data info's and a transform's result key)
GENERATION_KEY = 'generation'
PR_FILTER_KEY = 'pr_filter'
FEATURE_DISTANCE_KEY = 'feature_distance'

#: the thresholds on stored scores; with none set, only mmdet's rules apply
SCORE_THRESHOLDS = ('min_precision', 'min_recall', 'max_feature_distance')
#: mmdet's CocoDataset keys, the thresholds, and which stored scores they apply to
FILTER_CFG_KEYS = ('filter_empty_gt', 'min_size', *SCORE_THRESHOLDS, 'pr_key', 'feature_key')


def read_annotations(path: PathLike) -> dict[str, Any]:
    """A set's ``annotations.json``; an empty or malformed one is an error that says how to rebuild it.

    It is derived data (the manifest lists every finished image), but a rerun would stop at the same
    unreadable file, so the message says to delete it rather than to "regenerate".
    """
    try:
        return read_json(path)
    except ValueError as e:
        raise ValueError(f'{e}. Fix: delete it and rerun tools/generate.py with the same config, which '
                         f'rebuilds {ANNOTATIONS} from {MANIFEST} without generating any image again (then '
                         'rerun tools/pr_filter.py, which restores stored scores from pr_scores/ without '
                         'inference)') from None


# -- the keep rule --------------------------------------------------------------------------------
def check_filter_cfg(filter_cfg: dict[str, Any], where: str) -> None:
    """Refuse unknown keys (a misspelt threshold would keep every image) and PR thresholds outside [0, 1]."""
    check_keys(filter_cfg, FILTER_CFG_KEYS, f'{where} filter_cfg')
    for key in ('min_precision', 'min_recall'):
        value = filter_cfg.get(key)
        if value is not None and not 0.0 <= float(value) <= 1.0:
            raise ValueError(f'{where} filter_cfg.{key} must be in [0, 1], got {value}')


def select_scores(scores: dict[str, Any], key: str | None, where: str, key_name: str = 'pr_key') -> dict[str, Any]:
    """The one score entry to filter on: ``key``, or the only entry when there is exactly one.

    Several scorers' results coexist in one set, so the config says which one a run filters on.
    """
    if not scores:
        raise ValueError(f'{where}: no scores stored for this filter; score the set first '
                         '(tools/pr_filter.py, tools/feature_distance.py) or remove the thresholds from filter_cfg')
    if key is None:
        if len(scores) > 1:
            raise ValueError(f'{where}: scores from several scorers are stored ({sorted(scores)}); '
                             f'choose one with filter_cfg=dict({key_name}=...)')
        key = next(iter(scores))
    if key not in scores:
        raise ValueError(f'{where}: no scores under {key_name} {key!r}; stored keys: {sorted(scores)}')
    return scores[key]


def passes(record: dict[str, Any], min_precision: float | None, min_recall: float | None) -> bool:
    """Whether one PR score record passes the thresholds (inclusive; ``None`` = no bound)."""
    return ((min_precision is None or record['precision'] >= min_precision)
            and (min_recall is None or record['recall'] >= min_recall))


def passes_scores(image: dict[str, Any], cfg: dict[str, Any], where: str) -> bool:
    """Whether an image's stored scores pass the thresholds of ``cfg``; a null distance (an image the
    scorer could not decode) fails ``max_feature_distance``."""
    min_p, min_r = cfg.get('min_precision'), cfg.get('min_recall')
    if min_p is not None or min_r is not None:
        record = select_scores(image.get(PR_FILTER_KEY, {}), cfg.get('pr_key'), where, 'pr_key')
        if not passes(record, min_p, min_r):
            return False
    max_d = cfg.get('max_feature_distance')
    if max_d is not None:
        distance = select_scores(image.get(FEATURE_DISTANCE_KEY, {}), cfg.get('feature_key'), where,
                                 'feature_key')['distance']
        if distance is None or distance > max_d:
            return False
    return True


def images_with_boxes(coco: dict[str, Any]) -> set[int]:
    """Ids of the images holding a box of one of the set's categories (what mmdet's
    ``filter_empty_gt`` asks for; degenerate boxes count, as there)."""
    categories = {c['id'] for c in coco['categories']}
    return {a['image_id'] for a in coco['annotations'] if a['category_id'] in categories}


def kept_ids(coco: dict[str, Any], filter_cfg: dict[str, Any] | None, where: str = ANNOTATIONS) -> list[int]:
    """Ids of the images of ``coco`` that ``SyntheticDetDataset(filter_cfg=...)`` trains on, in file order.

    mmdet's rules first (``filter_empty_gt``, ``min_size``), then the thresholds on the stored scores,
    so an image those rules drop needs no scores. Missing or ambiguous scores for a threshold are
    errors naming ``where``, as training would stop on them.
    """
    cfg = dict(filter_cfg or {})
    check_filter_cfg(cfg, where)
    boxed = images_with_boxes(coco) if cfg.get('filter_empty_gt') else None
    min_size = cfg.get('min_size', 0)
    return [im['id'] for im in coco['images']
            if (boxed is None or im['id'] in boxed) and min(im['width'], im['height']) >= min_size
            and passes_scores(im, cfg, f"{where} image {im['id']}")]
