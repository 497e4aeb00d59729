"""The pieces of benchmarks/filter_auc.py that decide its figure: the ROC AUC and the box shift."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import benchmark_module


@pytest.fixture(scope='module')
def filter_auc():
    return benchmark_module('filter_auc')


def test_roc_auc_counts_ties_as_half(filter_auc):
    assert filter_auc.roc_auc([1.0, 0.9], [0.0, 0.1]) == 1.0
    assert filter_auc.roc_auc([0.0, 0.1], [1.0, 0.9]) == 0.0
    assert filter_auc.roc_auc([0.0, 0.0], [0.0, 0.0]) == 0.5
    # 2 of 3 positives above both negatives, the third ties with both: (2 * 2 + 0.5 * 2) / 6
    assert filter_auc.roc_auc([0.5, 0.7, 0.0], [0.0, 0.0]) == pytest.approx(5 / 6)


def test_shifted_boxes_leave_their_objects_and_stay_in_the_image(filter_auc):
    rng = np.random.default_rng(0)
    images = [dict(id=i, width=w, height=h) for i, (w, h) in enumerate([(360, 202), (64, 48), (1920, 1080)])]
    annotations = []
    for im in images:
        for _ in range(20):
            # under a quarter of the image, a box always has room to move 1.5 sizes off its object
            w, h = rng.uniform(2, im['width'] / 4), rng.uniform(2, im['height'] / 4)
            x, y = rng.uniform(0, im['width'] - w), rng.uniform(0, im['height'] - h)
            annotations.append(dict(id=len(annotations), image_id=im['id'], bbox=[x, y, w, h]))
    coco = dict(images=images, annotations=annotations)
    shifted = filter_auc.shift_boxes(coco, seed=0)
    sizes = {im['id']: (im['width'], im['height']) for im in images}
    for before, after in zip(coco['annotations'], shifted['annotations']):
        (x, y, w, h), (nx, ny, nw, nh) = before['bbox'], after['bbox']
        W, H = sizes[before['image_id']]
        assert (nw, nh) == (w, h) and 0 <= nx <= W - w + 1e-9 and 0 <= ny <= H - h + 1e-9
        overlap = max(0.0, min(x + w, nx + w) - max(x, nx)) * max(0.0, min(y + h, ny + h) - max(y, ny))
        assert overlap / (w * h) < 0.3, 'a shifted box must not still cover its object'
    assert coco['annotations'][0]['bbox'] != shifted['annotations'][0]['bbox'], 'the input is left as it was'


@pytest.mark.parametrize('config, decay', [
    ('derived', ['param_scheduler.1.end=1500', 'param_scheduler.1.T_max=1450']),
    ('configs/filter/faster-rcnn_r18-w16_fpn_scratch-filter_fish4knowledge-mini.py',
     ['param_scheduler.1.end=1500', 'param_scheduler.1.milestones=[1200]']),
])
def test_the_filter_schedule_is_stretched_whatever_its_decay(filter_auc, fish_coco, tmp_path, config, decay):
    """The default filter (the CPU recipe's detector, cosine decay) and the from-scratch one (step decay)
    both train for --max-iters, their decay ending there."""
    from helpers import REPO
    path = filter_auc.derived_filter_config(fish_coco, tmp_path) if config == 'derived' else REPO / config
    assert filter_auc.decay_options(path, 1500) == decay


def test_kept_table_applies_both_thresholds(filter_auc):
    """A set's kept share at (p, r) counts the images whose precision >= p and recall >= r."""
    scores = {'correct': dict(precision=np.array([0.01, 0.05, 0.5]), recall=np.array([1.0, 0.2, 1.0])),
              'shifted': dict(precision=np.array([0.0, 0.02]), recall=np.array([0.0, 0.5]))}
    table = {(row['min_precision'], row['min_recall']): (row['correct'], row['shifted'])
             for row in filter_auc.kept_table(scores)}
    assert table[(0.01, 0.1)] == (1.0, 0.5)
    assert table[(0.02, 0.3)] == (round(1 / 3, 3), 0.5)
    assert table[(0.05, 0.5)] == (round(1 / 3, 3), 0.0)
    assert table[(0.1, 0.1)] == (round(1 / 3, 3), 0.0)
