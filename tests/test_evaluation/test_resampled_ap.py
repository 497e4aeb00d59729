"""AP recomputed from kept matches equals pycocotools: on the test split as it is, and on a resample
(an image drawn k times is the split with k copies of it)."""
from __future__ import annotations

import numpy as np
import pytest

from mmgen_det.evaluation import ResampledCocoAP
from mmgen_det.testing.coco_reference import pycocotools_metrics, repeated_images
from mmgen_det.testing.simulated_detections import detector_output, ground_truth


@pytest.mark.parametrize('crowded_every', [0, 7])  # 7: some images exceed 100 detections (mAP at 100)
def test_unresampled_equals_pycocotools(crowded_every):
    gt = ground_truth(num_images=60, classes=('fish', 'crab', 'eel', 'empty'), crowd=0.05)
    gt['annotations'] = [a for a in gt['annotations'] if a['category_id'] != 4]  # a class without boxes
    dets = detector_output(gt, recall=0.6, seed=1, crowded_every=crowded_every)
    for d in dets[::9]:
        d['score'] = round(d['score'], 1)  # ties between images, broken as COCO breaks them
    expected = pycocotools_metrics(gt, dets)
    got = ResampledCocoAP(gt, dets).metrics()
    assert set(got) == set(expected) and 'AP_empty' not in got
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-6), key
    if crowded_every:
        assert got['mAP50'] > 0 and ResampledCocoAP(gt, dets).precision(max_det=100).shape[-1] == 4


def test_a_resample_equals_pycocotools_on_the_split_with_images_repeated():
    gt = ground_truth(num_images=40, seed=3)
    dets = detector_output(gt, recall=0.7, seed=4)
    weights = np.random.default_rng(5).multinomial(40, np.full(40, 1 / 40))
    expected = pycocotools_metrics(*repeated_images(gt, dets, weights))
    got = ResampledCocoAP(gt, dets).metrics(weights)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-9), key


def test_no_detections_at_all_is_zero_ap_for_classes_with_boxes():
    gt = ground_truth(num_images=10)
    got = ResampledCocoAP(gt, []).metrics()
    assert got['mAP'] == 0.0 and got['mAP50'] == 0.0 and got['AP_a'] == 0.0
