"""A small scored copy-paste set for the gallery and HTML report tests: scores on and beside thresholds."""
from __future__ import annotations

import json
from pathlib import Path

from mmgen_det.generation import generate_synthetic_set

NUM_IMAGES = 12
EMPTY_IMAGE = 11  # its layout boxes are removed: filter_empty_gt decides about it
# (precision, recall) per image under two filter detectors; 0.1 + 0.2 is 0.30000000000000004
PR_A = [(0.0, 1.0), (0.1 + 0.2, 0.9), (0.3, 0.8), (0.5, 0.5), (0.5, 0.25), (2 / 3, 1 / 3), (0.75, 0.6),
        (1.0, 0.0), (0.9, 0.95), (0.25, 0.5), (1.0, 1.0), (1.0, 1.0)]
PR_B = [(1.0, 1.0), (0.5, 0.5), (0.2, 0.9), (0.6, 0.4), (0.5, 0.49), (0.8, 0.8), (0.4, 1.0), (1.0, 0.5),
        (0.55, 0.7), (0.9, 0.1), (0.3, 0.3), (0.7, 0.7)]
DISTANCES = [None, 0.5, 1.5, 1.4999, 2.0, 0.9, 3.1, 1.2, 1.5000001, 0.7, 2.5, 1.0]
KEY_A, KEY_B, FEATURE_KEY = 'aaaaaaaaaaaa_s0.3_i0.5_agnostic', 'bbbbbbbbbbbb_s0.05_i0.3_agnostic', 'featA'
# images whose KEY_A record stores its detections (one on layout box 0, one false positive); the
# other records are as a scorer that stored no detections wrote them
DETECTED = (1, 2, 3)
FALSE_POSITIVE = [4.0, 4.0, 60.5, 40.0]  # xyxy


def pr_record(precision: float, recall: float, boxes: list[list[float]], detections: bool = False) -> dict:
    matches = [[0, 0.87, 0.64]] if boxes and recall > 0 else []
    record = dict(precision=precision, recall=recall, num_detections=len(matches) + 1, num_matched=len(matches),
                  num_boxes=len(boxes), matches=matches, detector=dict(config='filter.py', sha256='a' * 64),
                  thresholds=dict(score_thr=0.3, iou_thr=0.5, class_aware=False))
    if detections:
        hits = [[x, y, x + w, y + h] for x, y, w, h in boxes[:len(matches)]]
        record['detections'] = dict(bboxes=hits + [FALSE_POSITIVE], classes=['0'] * len(hits) + ['1'],
                                    scores=[0.87] * len(hits) + [0.412], layout_box=[0] * len(hits) + [-1])
    return record


def build_scored_set(out: Path, fish_coco: Path) -> Path:
    """A 12-image copy-paste set with scores of two filter detectors (detections stored for some
    images under one of them) and a feature distance."""
    ann = str(fish_coco / 'annotations' / 'train.json')
    generate_synthetic_set(dict(out_dir=str(out), num_images=NUM_IMAGES, seed=0, batch_size=NUM_IMAGES,
                                layout=dict(ann_file=ann, strategy='copy', width=360, height=200, min_box_cells=0.5),
                                generator=dict(type='copy_paste', ann_file=ann, img_root=str(fish_coco))),
                           progress=False)
    coco = json.loads((out / 'annotations.json').read_text())
    coco['annotations'] = [a for a in coco['annotations'] if a['image_id'] != EMPTY_IMAGE]
    for im in coco['images']:
        i, boxes = im['id'], [a['bbox'] for a in coco['annotations'] if a['image_id'] == im['id']]
        im['pr_filter'] = {KEY_A: pr_record(*PR_A[i], boxes, i in DETECTED), KEY_B: pr_record(*PR_B[i], boxes)}
        im['feature_distance'] = {FEATURE_KEY: dict(distance=DISTANCES[i])}
    (out / 'annotations.json').write_text(json.dumps(coco))
    return out
