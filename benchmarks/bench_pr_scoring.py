"""PR scoring: batched filter-detector scoring vs a loop of mmdet's ``inference_detector``.

Same detector object (the CPU filter config, ``configs/filter/faster-rcnn_r18_fpn_filter_fish4knowledge-mini.py``,
with random weights saved as a checkpoint, so no training is needed; it keeps up to 100 boxes per
image like a trained one, but its near-uniform class scores (~1/8) all pass the 0.05 pre-NMS
threshold, so its NMS sorts more boxes than a trained detector's would, in both paths alike) and the
same real frames, decoded once; compared side by side, interleaved:

* **batched**: ``FilterDetector.predict`` on chunks of B=8 images (what ``mmgen_det.filters.scoring.score_set``
  does per batch), then ``score_detections`` per image;
* **loop**: ``inference_detector(detector.model, img)`` one image at a time, then the same matching.

Both must give the same detections (count, max abs difference of boxes and scores is reported).
Target: >= 1.3x images/s on the CPU. One batched call is profiled (cProfile) to show where the time
goes. Measured only if ``mmgen_det/filters/scoring.py`` provides the
batched scorer; otherwise the result says "not measured: scorer not available".
"""
from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, finish, machine, not_measured, parser, profile_top, result, row, summary, versions  # noqa: E402

FILTER_CFG = REPO / 'configs' / 'filter' / 'faster-rcnn_r18_fpn_filter_fish4knowledge-mini.py'
REAL_IMAGES = REPO / 'data' / 'fish4knowledge-mini' / 'train' / 'images'
TARGET = 1.3


def scorer_available() -> str | None:
    """None when the batched scorer exists, else why not."""
    try:
        from mmgen_det.filters import scoring
        from mmgen_det.filters.pr_filter import FilterDetector
    except ImportError as e:
        return f'scorer not available ({e})'
    if not callable(getattr(scoring, 'score_set', None)) or not callable(getattr(FilterDetector, 'predict', None)):
        return 'scorer not available (no score_set / FilterDetector.predict)'
    return None


def random_checkpoint(path: Path) -> Path:
    """The filter config's model with random weights (no backbone download), saved as an mmdet checkpoint."""
    import torch
    from mmdet.apis import init_detector
    from mmengine.config import Config

    cfg = Config.fromfile(str(FILTER_CFG))
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    model = init_detector(cfg, None, device='cpu')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(dataset_meta=dict(classes=cfg.classes))), path)
    return path


def loop(model: Any, images: Sequence[np.ndarray]) -> list[Any]:
    from mmdet.apis import inference_detector
    from mmgen_det.filters.pr_filter import Detections

    out = []
    for img in images:
        pred = inference_detector(model, img).pred_instances
        out.append(Detections(pred.bboxes.numpy().astype(np.float64), pred.scores.numpy().astype(np.float64),
                              pred.labels.numpy().astype(np.int64)))
    return out


def batched(detector: Any, images: Sequence[np.ndarray], b: int) -> list[Any]:
    return [d for start in range(0, len(images), b) for d in detector.predict(images[start:start + b])]


def score_all(dets: Sequence[Any], boxes: np.ndarray) -> list[Any]:
    from mmgen_det.filters.pr_filter import MatchSettings, score_detections

    settings = MatchSettings()
    return [score_detections(d, boxes, None, settings) for d in dets]


def agreement(a: Sequence[Any], b: Sequence[Any]) -> dict[str, Any]:
    same_counts = all(len(x.scores) == len(y.scores) for x, y in zip(a, b))
    diff = max((float(np.abs(x.boxes - y.boxes).max(initial=0.0)) for x, y in zip(a, b) if len(x.scores) == len(y.scores)),
               default=0.0)
    score_diff = max((float(np.abs(x.scores - y.scores).max(initial=0.0)) for x, y in zip(a, b)
                      if len(x.scores) == len(y.scores)), default=0.0)
    return dict(same_counts=same_counts, max_box_diff_px=diff, max_score_diff=score_diff,
                detections_per_image=float(np.mean([len(x.scores) for x in a])))


def run(quick: bool = False, repeats: int | None = None, b: int = 8, threads: int = 1) -> dict[str, Any]:
    repeats = repeats or (1 if quick else 3)
    n = 8 if quick else 16
    settings = dict(detector=str(FILTER_CFG.relative_to(REPO)) + ' (random weights)', batch_size=b, images=n,
                    image_size='360x202 (real Fish4Knowledge frames)', repeats=repeats, torch_threads=threads)
    title = 'Batched PR scoring vs a loop of inference_detector' + (f' ({threads} torch threads)' if threads != 1 else '')
    missing = scorer_available()
    if missing:
        return result('pr_scoring', title, settings, {}, [not_measured('PR scoring images/s, batched vs loop',
                                                                       missing, f'>= {TARGET}x')])
    import torch
    from mmgen_det.filters.pr_filter import FilterDetector
    from mmgen_det.filters.scoring import decode_image

    torch.set_num_threads(threads)
    tmp = Path(tempfile.mkdtemp(prefix='bench_pr_'))
    try:
        detector = FilterDetector(FILTER_CFG, random_checkpoint(tmp / 'random.pth'))
        images = [decode_image(p) for p in sorted(REAL_IMAGES.glob('*.jpg'))[:n]]
        layout = np.array([[40.0, 40.0, 60.0, 55.0], [200.0, 100.0, 230.0, 120.0]])
        t_loop, t_batch = [], []
        for r in range(repeats + 1):  # round 0: warm-up + agreement check
            start = time.perf_counter()
            ref = loop(detector.model, images)
            score_all(ref, layout)
            t1 = time.perf_counter()
            ours = batched(detector, images, b)
            score_all(ours, layout)
            t2 = time.perf_counter()
            if r == 0:
                check = agreement(ref, ours)
            else:
                t_loop.append(t1 - start)
                t_batch.append(t2 - t1)
        top = profile_top(lambda: batched(detector, images, b), top=25)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lo, ba = summary(t_loop), summary(t_batch)
    ratio = lo['median_s'] / ba['median_s']
    met = ratio >= TARGET
    rows = [row(f"images/s: batched (B={b}) vs loop of inference_detector, {threads} thread{'s' * (threads > 1)}",
                f"{n / ba['median_s']:.2f} vs {n / lo['median_s']:.2f} img/s = {ratio:.2f}x", f'>= {TARGET}x', met,
                '' if met else why_missed(top)),
            row('same detections (counts equal; max abs diff boxes px / scores)',
                f"{check['same_counts']}; {check['max_box_diff_px']:.2e} / {check['max_score_diff']:.2e} "
                f"({check['detections_per_image']:.0f} detections/image)", '< 1e-2 px',
                check['same_counts'] and check['max_box_diff_px'] < 1e-2)]
    return result('pr_scoring', title, settings,
                  dict(loop=lo, batched=ba, ratio=ratio, agreement=check, profile_top=top), rows)


def why_missed(top: list[dict[str, Any]]) -> str:
    """Where the batched call's time goes (from its profile), and so why batching cannot pay more here."""
    def share(*names: str) -> float:
        return sum(p['share'] for p in top if any(n in p['function'] for n in names))

    return (f"in the batched call's profile, convolutions take {share('conv2d'):.0%}, NMS {share('_ext.nms'):.0%} "
            f"and RoIAlign {share('roi_align'):.0%} of the time: the per-box ops cost the same per image in a "
            'batch (mmcv runs them image by image, on one thread), and a CPU convolution is already efficient '
            'at batch 1, so batching removes only the per-call pipeline/collate/postprocess overhead. A GPU, '
            'where one image leaves the device idle, is where batching pays')


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser(__doc__)
    p.add_argument('--batch-size', type=int, default=8)
    p.add_argument('--threads', type=int, default=1, help='torch threads on the CPU')
    args = p.parse_args(argv)
    res = run(args.quick, args.repeats, args.batch_size, args.threads)
    res['machine'], res['versions'] = machine(), versions()
    return finish(res, args.out)


if __name__ == '__main__':
    main()
