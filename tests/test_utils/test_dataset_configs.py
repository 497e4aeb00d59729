"""One walk through dataset wrappers for everything that edits or reads a dataloader's datasets: the
classes of a user's ConcatDataset are set and checked on every dataset it joins, not on the first."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from mmgen_det.generation.settings import generation_datasets
from mmgen_det.recipes import ClassMismatchError, check_classes, set_classes
from mmgen_det.utils.dataset_configs import inner_dataset, leaf_datasets

A = dict(type='CocoDataset', ann_file='a.json')
B = dict(type='CocoDataset', ann_file='b.json')
SYNTHETIC = dict(type='SyntheticDetDataset', ann_file='annotations.json', generation=dict(num_images=4))


@pytest.mark.parametrize('dataset, leaves', [
    (A, [A]),
    (dict(type='RepeatDataset', times=3, dataset=dict(type='ClassBalancedDataset', dataset=A)), [A]),
    (dict(type='MultiImageMixDataset', dataset=A, pipeline=[]), [A]),
    (dict(type='ConcatDataset', datasets=[SYNTHETIC, dict(type='RepeatDataset', times=2, dataset=B)]), [SYNTHETIC, B]),
    (dict(type='MyWrapper', datasets=(A, dict(type='MyOtherWrapper', dataset=B))), [A, B]),
])
def test_leaves_are_found_through_any_wrapper(dataset, leaves):
    assert leaf_datasets(dataset) == leaves
    assert generation_datasets(dataset) == [d for d in leaves if d.get('generation')]


def test_one_dataset_is_required_where_paths_are_set():
    assert inner_dataset(dict(dataset=dict(type='RepeatDataset', times=2, dataset=A))) is not None
    with pytest.raises(ValueError, match=r"found 2: \['CocoDataset', 'CocoDataset'\]"):
        inner_dataset(dict(dataset=dict(type='ConcatDataset', datasets=[A, B])))


def test_classes_of_every_joined_dataset_are_set_and_checked():
    cfg = Config(dict(model=dict(bbox_head=dict(num_classes=80)),
                      train_dataloader=dict(dataset=dict(type='ConcatDataset', datasets=[A, B])),
                      val_dataloader=dict(dataset=A), test_dataloader=None))
    set_classes(cfg, ['fish', 'crab'])
    check_classes(cfg, ['fish', 'crab'], 'cfg.py')
    assert [d['metainfo']['classes'] for d in leaf_datasets(cfg.train_dataloader.dataset)] == [('fish', 'crab')] * 2
    cfg.train_dataloader.dataset.datasets[1].metainfo = dict(classes=('crab', 'fish'))
    with pytest.raises(ClassMismatchError, match=r"train_dataloader classes \(2\): \['crab', 'fish'\]"):
        check_classes(cfg, ['fish', 'crab'], 'cfg.py')
