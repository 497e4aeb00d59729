"""``SyntheticDetDataset``: mmdet's CocoDataset over a generated set, filtered on stored PR scores.

In: a set folder written by ``mmgen_det.generation`` (``annotations.json`` whose images carry a
``generation`` record and, once scored, ``pr_filter`` / ``feature_distance`` records). Out: the usual
mmdet data infos plus each image's scores, keeping only images whose stored scores pass
``filter_cfg`` — a deterministic choice made at load time, so changing thresholds needs no inference
and never drops samples inside the training pipeline.
"""
from __future__ import annotations

import json
import os
from typing import Any

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS

from ..filters.feature_distance import FEATURE_DISTANCE_KEY
from ..filters.pr_filter import PR_FILTER_KEY
from ..filters.scoring import passes
from ..generation.synthetic_set import check_generation_keys
from ..generation.writer import read_annotations
from ..utils.io import safe_join
from ..utils.keys import check_keys

# What a data info keeps of each stored score record. The rest (matches, detections, detector identity,
# thresholds) and the generation record stay in annotations.json: copied into 100,000 data infos
# they made loading 1.6x slower than CocoDataset's, for fields no filter or transform reads.
SCORE_FIELDS = {PR_FILTER_KEY: ('precision', 'recall', 'num_matched', 'num_detections', 'num_boxes'),
                FEATURE_DISTANCE_KEY: ('distance',)}
#: mmdet's CocoDataset keys, then this dataset's thresholds and score keys
FILTER_CFG_KEYS = ('filter_empty_gt', 'min_size', 'min_precision', 'min_recall', 'pr_key', 'max_feature_distance',
                   'feature_key')


def compact_scores(records: dict[str, dict[str, Any]], fields: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``{scorer key: record}`` reduced to ``fields`` (the ones a record has)."""
    return {key: {f: record[f] for f in fields if f in record} for key, record in records.items()}


def select_scores(scores: dict[str, Any], key: str | None, where: str, key_name: str = 'pr_key') -> dict[str, Any]:
    """The one score entry to filter on: ``key``, or the only entry when there is exactly one.

    Stored scores are keyed by the scorer's identity (checkpoint hash + thresholds), so several
    scorers' results coexist in one set and the config says which one a run filters on.
    """
    if not scores:
        raise ValueError(f'{where}: no scores stored for this filter; score the set first '
                         '(tools/pr_filter.py) or remove the thresholds from filter_cfg')
    if key is None:
        if len(scores) > 1:
            raise ValueError(f'{where}: scores from several scorers are stored ({sorted(scores)}); '
                             f'choose one with filter_cfg=dict({key_name}=...)')
        key = next(iter(scores))
    if key not in scores:
        raise ValueError(f'{where}: no scores under {key_name} {key!r}; stored keys: {sorted(scores)}')
    return scores[key]


@DATASETS.register_module()
class SyntheticDetDataset(CocoDataset):
    """A CocoDataset over a synthetic set, filtered on stored PR scores.

    ``filter_cfg`` accepts mmdet's keys (``filter_empty_gt``, ``min_size``) plus ``min_precision``,
    ``min_recall`` (in [0, 1]) and ``pr_key`` (which filter detector's scores to use when several
    are stored), and ``max_feature_distance`` with ``feature_key`` for the feature-distance scorer
    (an image whose stored distance is null failed to decode and is dropped). Any other key is an
    error: a misspelt threshold would otherwise keep every image.

    Args:
        generation: how the set is made (``mmgen_det.generation.synthetic_set`` keys, without
            ``out_dir``: the set is written to ``data_root``). When the Runner building the dataset has a
            ``GLIGENGenerationHook``, a missing or partial set is generated before the annotations are read.
    """

    def __init__(self, *args, generation: dict[str, Any] | None = None, **kwargs) -> None:
        self.generation = dict(generation) if generation else None
        if self.generation:
            check_generation_keys(self.generation)
        filter_cfg = kwargs.get('filter_cfg') or {}
        check_keys(filter_cfg, FILTER_CFG_KEYS, 'SyntheticDetDataset filter_cfg')
        for key in ('min_precision', 'min_recall'):
            value = filter_cfg.get(key)
            if value is not None and not 0.0 <= float(value) <= 1.0:
                raise ValueError(f'SyntheticDetDataset filter_cfg.{key} must be in [0, 1], got {value}')
        super().__init__(*args, **kwargs)

    def generation_cfg(self) -> dict[str, Any] | None:
        """The generation settings with ``out_dir`` set to this dataset's ``data_root``."""
        if self.generation is None:
            return None
        out_dir = self.generation.get('out_dir')
        if out_dir is not None and os.path.realpath(out_dir) != os.path.realpath(self.data_root):
            raise ValueError(f'SyntheticDetDataset: generation.out_dir {out_dir!r} differs from data_root '
                             f'{self.data_root!r}; leave out_dir out, the set is written to data_root')
        return dict(self.generation, out_dir=self.data_root)

    def load_data_list(self) -> list[dict]:
        # The one place a dataset may generate: it has `generation` settings AND the Runner building it
        # has a GLIGENGenerationHook (why here and not in before_run: engine/hooks/generation_hook.py).
        from ..engine.hooks.generation_hook import ensure_set_in_building_runner
        generation = self.generation_cfg()
        generated = generation is not None and ensure_set_in_building_runner(generation) is not None
        if not generated and not os.path.isfile(self.ann_file):
            how = ("add custom_hooks=[dict(type='GLIGENGenerationHook')] to generate it during training, or "
                   'run tools/generate.py CONFIG' if generation is not None else
                   'give the dataset `generation` settings, or point data_root at a generated set')
            raise FileNotFoundError(f'{self.ann_file}: the synthetic set has not been generated; {how}')
        self._class_order_checked = False
        try:
            return super().load_data_list()
        except json.JSONDecodeError:  # pycocotools' own error names neither the file nor the fix
            read_annotations(self.ann_file)  # raises the error that does
            raise

    def _check_class_order(self) -> None:
        """Labels must mean the same class here as in the real dataset (same ``classes`` order).

        Runs while ``self.coco`` exists (CocoDataset deletes it at the end of ``load_data_list``).
        """
        names = [self.coco.cats[i]['name'] for i in self.cat_ids]
        classes = list(self.metainfo['classes'])
        if names != classes:
            raise ValueError(f'{self.ann_file}: categories {names} (in file order) do not match '
                             f'metainfo classes {classes}; give the synthetic set the same class list, '
                             'in the same order, as the real dataset')

    def parse_data_info(self, raw_data_info: dict) -> dict:
        if not self._class_order_checked:
            self._check_class_order()
            self._class_order_checked = True
        img_info = raw_data_info['raw_img_info']
        try:
            safe_join(self.data_root, img_info['file_name'])
        except ValueError as e:
            raise ValueError(f"{self.ann_file}: image {img_info['id']}: {e}") from None
        data_info = super().parse_data_info(raw_data_info)
        for field, keep in SCORE_FIELDS.items():
            data_info[field] = compact_scores(img_info.get(field, {}), keep)
        return data_info

    def passes_filter(self, info: dict, cfg: dict) -> bool:
        """Whether one image's stored scores pass the thresholds of ``filter_cfg``."""
        where = f"{self.ann_file} image {info['img_id']}"
        min_p, min_r = cfg.get('min_precision'), cfg.get('min_recall')
        if min_p is not None or min_r is not None:
            if not passes(select_scores(info[PR_FILTER_KEY], cfg.get('pr_key'), where, 'pr_key'), min_p, min_r):
                return False
        max_d = cfg.get('max_feature_distance')
        if max_d is not None:
            fd = select_scores(info[FEATURE_DISTANCE_KEY], cfg.get('feature_key'), where, 'feature_key')
            if fd['distance'] is None or fd['distance'] > max_d:
                return False
        return True

    def filter_data(self) -> list[dict]:
        data_list = super().filter_data()
        cfg = self.filter_cfg or {}
        thresholds = {k: cfg[k] for k in ('min_precision', 'min_recall', 'max_feature_distance')
                      if cfg.get(k) is not None}
        if self.test_mode or not thresholds:
            return data_list
        kept = [info for info in data_list if self.passes_filter(info, cfg)]
        if not kept:
            raise ValueError(f'{self.ann_file}: no image of the {len(data_list)} passes {thresholds}; '
                             'lower the thresholds (tools/pr_filter.py prints how many survive at each)')
        return kept
