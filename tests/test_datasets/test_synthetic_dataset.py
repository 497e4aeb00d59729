"""SyntheticDetDataset: filters deterministically on stored PR scores, checks class order and paths."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmgen_det.datasets.synthetic_dataset import SyntheticDetDataset
from mmgen_det.generation import generate_synthetic_set

CLASSES = ('0', '1', '2', '5', '6', '7', '8')


@pytest.fixture(scope='module')
def scored_set(fish_coco, tmp_path_factory) -> Path:
    """A 6-image copy-paste set with hand-written scores from two filter detectors."""
    out = tmp_path_factory.mktemp('synthetic') / 'set'
    ann = str(fish_coco / 'annotations' / 'train.json')
    generate_synthetic_set(dict(out_dir=str(out), num_images=6, seed=0, batch_size=6,
                                layout=dict(ann_file=ann, strategy='copy', width=360, height=200,
                                            min_box_cells=0.5),
                                generator=dict(type='copy_paste', ann_file=ann, img_root=str(fish_coco))),
                           progress=False)
    coco = json.loads((out / 'annotations.json').read_text())
    for im in coco['images']:
        i = im['id']
        im['pr_filter'] = {'detA': dict(precision=[0.0, 0.2, 0.4, 0.6, 0.8, 1.0][i],
                                        recall=[1.0, 0.8, 0.6, 0.4, 0.2, 0.0][i], matches=[[0, 0.9, 0.7]]),
                           'detB': dict(precision=1.0, recall=1.0)}
        im['feature_distance'] = {'featA': dict(distance=None if i == 0 else float(i))}
    (out / 'annotations.json').write_text(json.dumps(coco))
    return out


def build(root: Path, test_mode: bool = False, **filter_cfg) -> SyntheticDetDataset:
    return SyntheticDetDataset(data_root=f'{root}/', ann_file='annotations.json', data_prefix=dict(img=''),
                               metainfo=dict(classes=CLASSES), filter_cfg=dict(filter_empty_gt=False, **filter_cfg),
                               pipeline=[], test_mode=test_mode)


def test_thresholds_keep_exactly_the_passing_images(scored_set):
    ds = build(scored_set, min_precision=0.4, min_recall=0.2, pr_key='detA')
    # precision >= 0.4 -> i >= 2; recall >= 0.2 -> i <= 4
    assert sorted(d['img_id'] for d in ds) == [2, 3, 4]
    # infos carry the scores filters and transforms read, not the records kept in annotations.json
    assert ds.get_data_info(0)['pr_filter'] == {'detA': dict(precision=0.4, recall=0.6),
                                                'detB': dict(precision=1.0, recall=1.0)}
    assert ds.get_data_info(0)['feature_distance'] == {'featA': dict(distance=2.0)}
    assert 'generation' not in ds.get_data_info(0)
    assert len(build(scored_set, min_precision=0.9, pr_key='detB')) == 6
    assert len(build(scored_set)) == 6  # no thresholds: everything


def test_ambiguous_or_unknown_scores_are_errors(scored_set):
    with pytest.raises(ValueError, match='several scorers'):
        build(scored_set, min_precision=0.5)
    with pytest.raises(ValueError, match="no scores under pr_key 'detC'"):
        build(scored_set, min_precision=0.5, pr_key='detC')
    with pytest.raises(ValueError, match=r'min_recall must be in \[0, 1\]'):
        build(scored_set, min_recall=1.5)


def test_feature_distance_filter_and_empty_result(scored_set):
    # distances 1..5, image 0 failed to decode (null): dropped
    assert sorted(d['img_id'] for d in build(scored_set, max_feature_distance=3.0)) == [1, 2, 3]
    with pytest.raises(ValueError, match=r'no image of the 6 passes .*min_precision'):
        build(scored_set, min_precision=0.9, min_recall=0.9, pr_key='detA')


def test_class_order_must_match_the_real_dataset(scored_set):
    with pytest.raises(ValueError, match='do not match metainfo classes'):
        SyntheticDetDataset(data_root=f'{scored_set}/', ann_file='annotations.json', data_prefix=dict(img=''),
                            metainfo=dict(classes=tuple(reversed(CLASSES))), pipeline=[])


def test_file_names_escaping_the_set_are_refused(scored_set, tmp_path):
    coco = json.loads((scored_set / 'annotations.json').read_text())
    coco['images'][1]['file_name'] = '../../etc/passwd'
    (tmp_path / 'annotations.json').write_text(json.dumps(coco))
    with pytest.raises(ValueError, match=r'image 1: .*escapes the data root'):
        build(tmp_path)
