"""AP recomputed from kept matches equals pycocotools: on the test split as it is, and on a resample
(an image drawn k times is the split with k copies of it)."""
from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from mmgen_det.evaluation import ResampledCocoAP
from mmgen_det.testing.simulated_detections import detector_output, ground_truth


def pycocotools_metrics(gt: dict, dets: list[dict]) -> dict[str, float]:
    """mAP, mAP50 and per-class AP as mmdet's CocoMetric computes them with pycocotools."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(dets), 'bbox')
        ev.params.catIds, ev.params.imgIds = coco.getCatIds(), coco.getImgIds()
        ev.params.maxDets = [100, 300, 1000]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    out = dict(mAP=ev.stats[0], mAP50=ev.stats[1])
    for k, cat in enumerate(gt['categories']):
        p = ev.eval['precision'][:, :, k, 0, -1]
        if (p > -1).any():
            out[f"AP_{cat['name']}"] = float(p[p > -1].mean())
    return out


def as_coco(gt: dict):
    from pycocotools.coco import COCO
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
    return coco


@pytest.mark.parametrize('crowded_every', [0, 7])  # 7: some images exceed 100 detections (mAP at 100)
def test_unresampled_equals_pycocotools(crowded_every):
    gt = ground_truth(num_images=60, classes=('fish', 'crab', 'eel', 'empty'), crowd=0.05)
    gt['annotations'] = [a for a in gt['annotations'] if a['category_id'] != 4]  # a class without boxes
    dets = detector_output(gt, recall=0.6, seed=1, crowded_every=crowded_every)
    for d in dets[::9]:
        d['score'] = round(d['score'], 1)  # ties between images, broken as COCO breaks them
    expected = pycocotools_metrics(gt, dets)
    got = ResampledCocoAP(as_coco(gt), dets).metrics()
    assert set(got) == set(expected) and 'AP_empty' not in got
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-6), key
    if crowded_every:
        assert got['mAP50'] > 0 and ResampledCocoAP(as_coco(gt), dets).precision(max_det=100).shape[-1] == 4


def test_a_resample_equals_pycocotools_on_the_split_with_images_repeated():
    gt = ground_truth(num_images=40, seed=3)
    dets = detector_output(gt, recall=0.7, seed=4)
    weights = np.random.default_rng(5).multinomial(40, np.full(40, 1 / 40))
    # the resample as a dataset: image i copied weights[i] times, with its boxes and detections
    images, anns, copied = [], [], []
    by_image = {im['id']: i for i, im in enumerate(gt['images'])}
    for im in gt['images']:
        for c in range(weights[by_image[im['id']]]):
            new_id = im['id'] * 100 + c
            images.append(dict(im, id=new_id))
            anns += [dict(a, id=len(anns) + j + 1, image_id=new_id)
                     for j, a in enumerate(a for a in gt['annotations'] if a['image_id'] == im['id'])]
            copied += [dict(d, image_id=new_id) for d in dets if d['image_id'] == im['id']]
    expected = pycocotools_metrics(dict(gt, images=images, annotations=anns), copied)
    got = ResampledCocoAP(as_coco(gt), dets).metrics(weights)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-9), key


def test_no_detections_at_all_is_zero_ap_for_classes_with_boxes():
    gt = ground_truth(num_images=10)
    got = ResampledCocoAP(as_coco(gt), []).metrics()
    assert got['mAP'] == 0.0 and got['mAP50'] == 0.0 and got['AP_a'] == 0.0
