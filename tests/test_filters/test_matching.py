"""The PR maths on hand-made cases: every number below can be checked by eye."""
from __future__ import annotations

import numpy as np
import pytest

from mmgen_det.filters.matching import box_iou, match_detections, score_image

BOX_A = [0, 0, 10, 10]
BOX_B = [20, 20, 30, 30]
NEAR_A = [1, 0, 11, 10]  # IoU with BOX_A = 90 / 110


def test_box_iou():
    iou = box_iou([BOX_A, NEAR_A], [BOX_A, BOX_B, [5, 0, 15, 10]])
    np.testing.assert_allclose(iou, [[1, 0, 50 / 150], [90 / 110, 0, 60 / 140]])
    assert box_iou([[0, 0, 0, 0]], [[0, 0, 0, 0]]).tolist() == [[0.0]]
    assert box_iou(np.zeros((0, 4)), [BOX_A]).shape == (0, 1)


def test_perfect_match():
    s = score_image([BOX_B, BOX_A], [0.9, 0.8], [BOX_A, BOX_B])
    assert (s.precision, s.recall, s.num_matched) == (1.0, 1.0, 2)
    assert [(m.det, m.box) for m in s.matches] == [(0, 1), (1, 0)]


def test_missed_box():
    s = score_image([BOX_A], [0.9], [BOX_A, BOX_B])
    assert (s.precision, s.recall) == (1.0, 0.5)


def test_extra_detection():
    s = score_image([BOX_A, [50, 50, 60, 60]], [0.9, 0.8], [BOX_A])
    assert (s.precision, s.recall, s.num_detections) == (0.5, 1.0, 2)


def test_duplicates_on_one_box_count_once():
    s = score_image([NEAR_A, BOX_A], [0.6, 0.9], [BOX_A])
    assert (s.precision, s.recall, s.num_matched) == (0.5, 1.0, 1)
    # the highest-scoring detection takes the box, even though both overlap it
    assert s.matches[0].score == 0.9 and s.matches[0].iou == 1.0


def test_greedy_by_score_not_by_iou():
    # the best-scoring detection overlaps box A less than the second one does, but takes it first;
    # the second then has nothing left (B does not overlap it) and is an extra detection
    s = score_image([NEAR_A, BOX_A], [0.9, 0.6], [BOX_A, BOX_B])
    assert [(m.det, m.box) for m in s.matches] == [(0, 0)]
    assert (s.precision, s.recall) == (0.5, 0.5)


def test_no_detections():
    s = score_image(np.zeros((0, 4)), [], [BOX_A, BOX_B])
    assert (s.precision, s.recall, s.num_detections) == (1.0, 0.0, 0)


def test_no_boxes():
    s = score_image([BOX_A], [0.9], [])
    assert (s.precision, s.recall, s.num_boxes) == (0.0, 1.0, 0)
    s = score_image([], [], [])
    assert (s.precision, s.recall) == (1.0, 1.0)


def test_score_threshold_drops_low_detections_before_matching():
    s = score_image([BOX_A, BOX_B], [0.9, 0.2], [BOX_A], score_thr=0.3)
    assert (s.precision, s.recall, s.num_detections) == (1.0, 1.0, 1)
    s = score_image([BOX_A, BOX_B], [0.9, 0.2], [BOX_A], score_thr=0.1)
    assert (s.precision, s.recall, s.num_detections) == (0.5, 1.0, 2)


def test_iou_threshold():
    half = [5, 0, 15, 10]  # IoU 1/3 with BOX_A
    assert score_image([half], [0.9], [BOX_A], iou_thr=0.5).recall == 0.0
    assert score_image([half], [0.9], [BOX_A], iou_thr=0.3).recall == 1.0
    # iou_thr=0 still needs some overlap
    assert score_image([BOX_B], [0.9], [BOX_A], iou_thr=0.0).recall == 0.0


def test_class_aware_mismatch():
    kwargs = dict(det_labels=[1], gt_labels=[0])
    agnostic = score_image([BOX_A], [0.9], [BOX_A], **kwargs)
    aware = score_image([BOX_A], [0.9], [BOX_A], class_aware=True, **kwargs)
    assert (agnostic.precision, agnostic.recall) == (1.0, 1.0)
    assert (aware.precision, aware.recall) == (0.0, 0.0)
    right = score_image([BOX_A], [0.9], [BOX_A], class_aware=True, det_labels=[0], gt_labels=[0])
    assert (right.precision, right.recall) == (1.0, 1.0)


def test_class_aware_lets_the_right_class_take_an_overlapped_box():
    # two boxes on the same spot with different classes: each detection takes its own class's box
    s = score_image([BOX_A, BOX_A], [0.9, 0.8], [BOX_A, BOX_A], class_aware=True,
                    det_labels=[1, 0], gt_labels=[0, 1])
    assert sorted((m.det, m.box) for m in s.matches) == [(0, 1), (1, 0)]


@pytest.mark.parametrize('bad', [-0.1, 1.5, float('nan')])
def test_thresholds_outside_unit_interval(bad):
    with pytest.raises(ValueError, match='must be in'):
        score_image([BOX_A], [0.9], [BOX_A], score_thr=bad)
    with pytest.raises(ValueError, match='must be in'):
        score_image([BOX_A], [0.9], [BOX_A], iou_thr=bad)


def test_bad_shapes_and_missing_labels():
    with pytest.raises(ValueError, match=r'shape \(N, 4\)'):
        score_image([[0, 0, 1]], [0.9], [BOX_A])
    with pytest.raises(ValueError, match='2 detection boxes but 1 scores'):
        score_image([BOX_A, BOX_B], [0.9], [BOX_A])
    with pytest.raises(ValueError, match='needs det_labels'):
        match_detections([BOX_A], [0.9], [BOX_A], class_aware=True)
