"""A COCO test split and detectors of known quality, for statistics that need no model.

``ground_truth`` draws a test split (boxes of several sizes, some crowd boxes); ``detector_output``
draws what a detector of a given recall finds on it: each box found with probability ``recall``
(jittered, so some matches fail the stricter IoU thresholds), plus false positives, scored so that
true positives tend to score higher. Two calls with the same quality and other seeds are two
trainings of the same arm; a higher recall is a better arm.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def ground_truth(num_images: int = 120, classes: tuple[str, ...] = ('a', 'b', 'c'), seed: int = 0,
                 crowd: float = 0.03) -> dict:
    rng = np.random.default_rng(seed)
    images, anns = [], []
    for i in range(num_images):
        images.append(dict(id=1000 + i, file_name=f'{i:04d}.jpg', width=640, height=480))
        for _ in range(int(rng.integers(1, 5))):
            w, h = rng.uniform(8, 200), rng.uniform(8, 160)
            x, y = rng.uniform(0, 640 - w), rng.uniform(0, 480 - h)
            anns.append(dict(id=len(anns) + 1, image_id=1000 + i, category_id=int(rng.integers(1, len(classes) + 1)),
                             bbox=[x, y, w, h], area=w * h, iscrowd=int(rng.random() < crowd)))
    return dict(images=images, annotations=anns,
                categories=[dict(id=k + 1, name=name) for k, name in enumerate(classes)])


def detector_output(gt: dict, recall: float, seed: int, false_positives: float = 2.0, jitter: float = 0.08,
                    crowded_every: int = 0) -> list[dict]:
    """COCO results of a simulated detector (see the module docstring); ``crowded_every`` > 0 gives
    every such image 150 extra low-score detections (more than mmdet's 100 per image for mAP)."""
    rng = np.random.default_rng(seed)
    out = []
    for ann in gt['annotations']:
        if rng.random() < recall:
            x, y, w, h = ann['bbox']
            box = [x + rng.normal(0, jitter * w), y + rng.normal(0, jitter * h), w * rng.uniform(0.85, 1.15),
                   h * rng.uniform(0.85, 1.15)]
            out.append(dict(image_id=ann['image_id'], category_id=ann['category_id'], bbox=box,
                            score=float(rng.uniform(0.3, 1.0))))
    num_classes = len(gt['categories'])
    for i, image in enumerate(gt['images']):
        extra = rng.poisson(false_positives) + (150 if crowded_every and i % crowded_every == 0 else 0)
        for _ in range(extra):
            w, h = rng.uniform(10, 120, size=2)
            out.append(dict(image_id=image['id'], category_id=int(rng.integers(1, num_classes + 1)),
                            bbox=[float(rng.uniform(0, 520)), float(rng.uniform(0, 360)), float(w), float(h)],
                            score=float(rng.uniform(0.05, 0.7))))
    return out


def write_json(data, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path
