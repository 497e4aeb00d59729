"""``SyntheticDetDataset``: mmdet's CocoDataset over a generated set, filtered on stored PR scores.

In: a set folder written by ``mmgen_det.generation`` (``annotations.json`` whose images carry a
``generation`` record and, once scored, ``pr_filter`` / ``feature_distance`` records). Out: the usual
mmdet data infos plus each image's scores, keeping only the images the keep rule
(:func:`~mmgen_det.generation.set_format.kept_ids`) keeps with ``filter_cfg`` — a deterministic choice
made at load time, so changing thresholds needs no inference and never drops samples inside the
training pipeline.
"""
from __future__ import annotations

import json
import os
from dataclasses import replace
from typing import Any

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS

# FEATURE_DISTANCE_KEY, PR_FILTER_KEY, FILTER_CFG_KEYS and select_scores stay importable from here
from ..generation.set_format import (FEATURE_DISTANCE_KEY, FILTER_CFG_KEYS, PR_FILTER_KEY,  # noqa: F401
                                     SCORE_THRESHOLDS, check_filter_cfg, kept_ids, read_annotations,
                                     select_scores)
from ..generation.settings import GenerationSettings
from ..utils.io import safe_join

# What a data info keeps of each stored score record. The rest (matches, detections, detector identity,
# thresholds) and the generation record stay in annotations.json: copied into 100,000 data infos
# they made loading 1.6x slower than CocoDataset's, for fields no filter or transform reads.
SCORE_FIELDS = {PR_FILTER_KEY: ('precision', 'recall', 'num_matched', 'num_detections', 'num_boxes'),
                FEATURE_DISTANCE_KEY: ('distance',)}


def compact_scores(records: dict[str, dict[str, Any]], fields: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``{scorer key: record}`` reduced to ``fields`` (the ones a record has)."""
    return {key: {f: record[f] for f in fields if f in record} for key, record in records.items()}


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
            ``out_dir``: the set is written to ``data_root``), parsed into :class:`GenerationSettings`.
            When the Runner building the dataset has a ``GLIGENGenerationHook``, a missing or partial
            set is generated before the annotations are read (how the dataset knows:
            ``mmgen_det/engine/hooks/generation_hook.py``).
    """

    def __init__(self, *args, generation: dict[str, Any] | GenerationSettings | None = None, **kwargs) -> None:
        self.generation = GenerationSettings.from_dict(generation) if generation else None
        check_filter_cfg(kwargs.get('filter_cfg') or {}, 'SyntheticDetDataset')  # before any file is read
        super().__init__(*args, **kwargs)

    def generation_cfg(self) -> GenerationSettings | None:
        """The generation settings with ``out_dir`` set to this dataset's ``data_root``."""
        if self.generation is None:
            return None
        out_dir = self.generation.out_dir
        if out_dir is not None and os.path.realpath(out_dir) != os.path.realpath(self.data_root):
            raise ValueError(f'SyntheticDetDataset: generation.out_dir {out_dir!r} differs from data_root '
                             f'{self.data_root!r}; leave out_dir out, the set is written to data_root')
        return replace(self.generation, out_dir=self.data_root)

    def load_data_list(self) -> list[dict]:
        # The one place a dataset may generate: it has `generation` settings AND the Runner building it
        # has a GLIGENGenerationHook (why here and not in before_run: engine/hooks/generation_hook.py).
        from ..engine.hooks.generation_hook import current_generation_hook
        generation = self.generation_cfg()
        hook = current_generation_hook() if generation is not None else None
        if hook is not None:
            hook.ensure_set(generation)
        elif not os.path.isfile(self.ann_file):
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

    def scored_set(self) -> dict[str, Any]:
        """The set as :func:`kept_ids` reads it, rebuilt from the data infos (CocoDataset has deleted
        ``self.coco`` by now): each image's size and scores, and mmdet's map of the images holding
        each class, so ``filter_empty_gt`` means what it means to mmdet."""
        images = [dict(id=info['img_id'], width=info['width'], height=info['height'],
                       **{field: info[field] for field in SCORE_FIELDS}) for info in self.data_list]
        boxes = [dict(image_id=i, category_id=c) for c in self.cat_ids for i in set(self.cat_img_map[c])]
        return dict(images=images, annotations=boxes, categories=[dict(id=c) for c in self.cat_ids])

    def filter_data(self) -> list[dict]:
        """The data infos of the images the keep rule keeps; thresholds that keep none are an error."""
        if self.test_mode or self.filter_cfg is None:  # as mmdet: no filtering
            return self.data_list
        kept = set(kept_ids(self.scored_set(), self.filter_cfg, self.ann_file))
        data_list = [info for info in self.data_list if info['img_id'] in kept]
        thresholds = {k: self.filter_cfg[k] for k in SCORE_THRESHOLDS if self.filter_cfg.get(k) is not None}
        if thresholds and not data_list:
            raise ValueError(f'{self.ann_file}: no image of the {len(self.data_list)} passes {thresholds}; '
                             'lower the thresholds (tools/pr_filter.py prints how many survive at each)')
        return data_list
