"""``SyntheticDetDataset``: mmdet's CocoDataset over a generated set, filtered on stored PR scores.

In: a set folder written by ``mmgen_det.generation`` (``annotations.json`` whose images carry a
``generation`` record and, once scored, ``pr_filter`` scores). Out: the usual mmdet data infos, each
with its ``generation`` record, keeping only images whose stored precision/recall pass
``filter_cfg`` — a deterministic choice made at load time, so changing thresholds needs no inference
and never drops samples inside the training pipeline.
"""
from __future__ import annotations

import os
from typing import Any

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS

from ..utils.io import safe_join

PR_FILTER_KEY = 'pr_filter'


def select_pr_scores(scores: dict[str, Any], pr_key: str | None, where: str) -> dict[str, Any]:
    """The one score entry to filter on: ``pr_key``, or the only entry when there is exactly one."""
    if not scores:
        raise ValueError(f'{where}: no PR-filter scores stored; run tools/pr_filter.py on the set '
                         'or remove min_precision/min_recall from filter_cfg')
    if pr_key is None:
        if len(scores) > 1:
            raise ValueError(f'{where}: scores from several filter detectors are stored ({sorted(scores)}); '
                             "choose one with filter_cfg=dict(pr_key=...)")
        pr_key = next(iter(scores))
    if pr_key not in scores:
        raise ValueError(f'{where}: no scores under pr_key {pr_key!r}; stored keys: {sorted(scores)}')
    return scores[pr_key]


@DATASETS.register_module()
class SyntheticDetDataset(CocoDataset):
    """A CocoDataset over a synthetic set, filtered on stored PR scores.

    ``filter_cfg`` accepts mmdet's keys (``filter_empty_gt``, ``min_size``) plus ``min_precision``,
    ``min_recall`` (in [0, 1]) and ``pr_key`` (which filter detector's scores to use when several
    are stored).

    Args:
        generation: how the set is made (``mmgen_det.generation.synthetic_set`` keys, without
            ``out_dir``: the set is written to ``data_root``). With a ``GLIGENGenerationHook`` in the
            config, a missing or partial set is generated before the annotations are read.
    """

    def __init__(self, *args, generation: dict[str, Any] | None = None, **kwargs) -> None:
        self.generation = dict(generation) if generation else None
        for key in ('min_precision', 'min_recall'):
            value = (kwargs.get('filter_cfg') or {}).get(key)
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
        from ..engine.hooks.generation_hook import GLIGENGenerationHook
        generation, hook = self.generation_cfg(), GLIGENGenerationHook.active()
        if generation is not None and hook is not None:
            hook.ensure_set(generation)
        elif not os.path.isfile(self.ann_file):
            how = ("add custom_hooks=[dict(type='GLIGENGenerationHook')] to generate it during training, or "
                   'run tools/generate.py CONFIG' if generation is not None else
                   'give the dataset `generation` settings, or point data_root at a generated set')
            raise FileNotFoundError(f'{self.ann_file}: the synthetic set has not been generated; {how}')
        self._class_order_checked = False
        return super().load_data_list()

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
        data_info['generation'] = img_info.get('generation', {})
        data_info[PR_FILTER_KEY] = img_info.get(PR_FILTER_KEY, {})
        return data_info

    def filter_data(self) -> list[dict]:
        data_list = super().filter_data()
        cfg = self.filter_cfg or {}
        min_p, min_r = cfg.get('min_precision'), cfg.get('min_recall')
        if self.test_mode or (min_p is None and min_r is None):
            return data_list
        kept = []
        for info in data_list:
            scores = select_pr_scores(info[PR_FILTER_KEY], cfg.get('pr_key'),
                                      f"{self.ann_file} image {info['img_id']}")
            if (min_p is None or scores['precision'] >= min_p) and (min_r is None or scores['recall'] >= min_r):
                kept.append(info)
        return kept
