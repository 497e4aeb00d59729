"""Paired bootstrap speed: AP recomputed from kept matches against pycocotools rerun on every resample.

A simulated test split the size of Fish4Knowledge's (188 images, 7 classes, about 100 detections per
image as FCOS keeps them) and one detector's output on it. ``ResampledCocoAP`` matches once and
re-accumulates per resample (what every experiment report runs, 1,000 resamples per run); the obvious
alternative builds each resample as a dataset (an image drawn k times copied k times) and runs
pycocotools' evaluate + accumulate on it. Both on the same resamples, one core; the figures: seconds
for 1,000 resamples, the ratio of the per-resample medians, and the largest difference between the two
on the resamples both computed.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import main_with_common_cli, result, row  # noqa: E402

NUM_IMAGES, CLASSES, RESAMPLES = 188, tuple('0125678'), 1000


def run(quick: bool = False, repeats: int | None = None) -> dict[str, Any]:
    import numpy as np

    from mmgen_det.evaluation import ResampledCocoAP
    from mmgen_det.testing.coco_reference import pycocotools_metrics, repeated_images
    from mmgen_det.testing.simulated_detections import detector_output, ground_truth
    resamples = 50 if quick else RESAMPLES
    compared = repeats or (2 if quick else 5)
    gt = ground_truth(NUM_IMAGES, CLASSES, seed=0)
    dets = detector_output(gt, recall=0.5, seed=1, false_positives=95)
    weights = np.random.default_rng(0).multinomial(NUM_IMAGES, np.full(NUM_IMAGES, 1 / NUM_IMAGES), size=resamples)
    start = time.perf_counter()
    ap = ResampledCocoAP(gt, dets)
    build = time.perf_counter() - start
    start = time.perf_counter()
    ours = [ap.metrics(w)['mAP'] for w in weights]
    total = time.perf_counter() - start
    theirs, theirs_s = [], []
    for w in weights[:compared]:
        start = time.perf_counter()
        theirs.append(pycocotools_metrics(*repeated_images(gt, dets, w))['mAP'])
        theirs_s.append(time.perf_counter() - start)
    per_resample = total / resamples
    ratio = float(np.median(theirs_s)) / per_resample
    diff = max(abs(a - b) for a, b in zip(ours, theirs))
    seconds = build + per_resample * RESAMPLES
    rows = [row(f'{RESAMPLES} resamples of a {NUM_IMAGES}-image split, {len(dets)} detections (matching once: '
                f'{build:.1f} s)', f'{seconds:.1f} s', '<= 10 s', seconds <= 10),
            row('pycocotools per resample / re-accumulation per resample', f'{ratio:.0f}x'),
            row(f'largest |mAP difference| on {compared} resamples', f'{diff:.1e}', '<= 1e-6', diff <= 1e-6)]
    measurements = dict(build_s=build, per_resample_s=per_resample,
                        pycocotools_per_resample_s=theirs_s, ratio=ratio, max_abs_diff=diff, detections=len(dets))
    settings = dict(images=NUM_IMAGES, classes=len(CLASSES), resamples=resamples, compared=compared)
    return result('bootstrap', 'Paired bootstrap: AP re-accumulated from kept matches vs pycocotools per resample',
                  settings, measurements, rows)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return main_with_common_cli(__doc__, run, argv)


if __name__ == '__main__':
    main()
