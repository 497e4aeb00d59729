"""Dataset scale: ``SyntheticDetDataset`` vs mmdet's ``CocoDataset`` on one 100,000-image synthetic set.

The annotation file is generated programmatically: 100,000 images x 10 boxes, each image with its
``generation`` record and a stored ``pr_filter`` score record (as ``tools/pr_filter.py`` writes them),
all pointing at a handful of real Fish4Knowledge frames reused by ``file_name`` (no 100k images are
written). Each dataset is measured in its own fresh subprocess (for a fair peak RSS), alternating,
``repeats`` times:

* init time (``full_init``: parse JSON, build data infos, filter, serialise),
* peak RSS of the process (``ru_maxrss``) and its growth over the post-import baseline,
* samples/s through the standard train pipeline (Fish4Knowledge's: load, annotations, resize, flip,
  pack) on a fixed subset of indices.

Targets: SyntheticDetDataset / CocoDataset <= 1.1 on init time and peak memory; filtering 100,000
images by stored PR scores (``filter_data`` with ``min_precision``/``min_recall``) < 1 s.
"""
from __future__ import annotations

import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (REPO, current_rss_mb, finish, machine, not_measured, parser, peak_rss_mb, result,  # noqa: E402
                    row, run_json_subprocess, versions)

CLASSES = ('0', '1', '2', '5', '6', '7', '8')
REAL_IMAGES = REPO / 'data' / 'fish4knowledge-mini' / 'train' / 'images'
DATASET_CFG = REPO / 'configs' / '_base_' / 'datasets' / 'fish4knowledge_real.py'
PR_KEY = '3f2a9c1b0d4e_s0.3_i0.5_agnostic'
RATIO_TARGET, FILTER_TARGET_S = 1.1, 1.0


# -------------------------------------------------------------------------------- the data
def image_entry(i: int, file_name: str, width: int, height: int, boxes: list[list[float]]) -> dict[str, Any]:
    """A COCO image of a scored synthetic set: ``generation`` record + one ``pr_filter`` record."""
    precision, recall = ((i * 37) % 101) / 100, ((i * 53) % 101) / 100
    generation = dict(seed=(i * 2654435761) % 2 ** 31, attempts=1, generator='gligen',
                      model='masterful/gligen-1-4-generation-text-box',
                      layout_source=dict(strategy='jitter', image_id=i % 500),
                      prompt='an underwater photo of a fish on a coral reef', phrases=['a fish'] * len(boxes),
                      grounding='text-box', steps=50)
    pr = dict(precision=precision, recall=recall, num_detections=10, num_matched=int(recall * 10),
              num_boxes=len(boxes), matches=[[k, 0.9, 0.7] for k in range(int(recall * 10))],
              detector=dict(config='configs/filter/faster-rcnn_r18_fpn_filter_fish4knowledge-mini.py',
                            config_sha256='c' * 64, checkpoint='work_dirs/filter/best.pth', sha256='3f2a9c1b0d4e' * 5),
              thresholds=dict(score_thr=0.3, iou_thr=0.5, class_aware=False))
    return dict(id=i, file_name=file_name, width=width, height=height, generation=generation,
                pr_filter={PR_KEY: pr})


def make_annotations(out_dir: Path, num_images: int, num_real: int = 8, boxes_per_image: int = 10) -> Path:
    """``out_dir/annotations.json`` + ``out_dir/images/real_K.jpg`` (``num_real`` real frames, reused)."""
    from PIL import Image

    (out_dir / 'images').mkdir(parents=True)
    reals = []
    for k, src in enumerate(sorted(REAL_IMAGES.glob('*.jpg'))[:num_real]):
        shutil.copy(src, out_dir / 'images' / f'real_{k}.jpg')
        reals.append((f'images/real_{k}.jpg', *Image.open(src).size))
    images, annotations = [], []
    for i in range(num_images):
        file_name, w, h = reals[i % len(reals)]
        boxes = []
        for b in range(boxes_per_image):
            x, y = (i * 7 + b * 31) % (w - 40), (i * 11 + b * 17) % (h - 30)
            boxes.append([float(x), float(y), 12.0 + b, 8.0 + b])
            annotations.append(dict(id=len(annotations) + 1, image_id=i, category_id=b % len(CLASSES),
                                    bbox=boxes[-1], area=boxes[-1][2] * boxes[-1][3], iscrowd=0))
        images.append(image_entry(i, file_name, w, h, boxes))
    coco = dict(info=dict(description='bench_dataset_scale synthetic set'), images=images, annotations=annotations,
                categories=[dict(id=k, name=c) for k, c in enumerate(CLASSES)])
    path = out_dir / 'annotations.json'
    path.write_text(json.dumps(coco))
    return path


# -------------------------------------------------------------------------------- one worker
def worker(kind: str, data_root: Path, samples: int) -> dict[str, Any]:
    """Runs in a fresh process: init, RSS, pipeline throughput (+ PR filtering for ``synthetic``)."""
    import numpy as np
    from mmengine.config import Config
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules

    import mmgen_det  # noqa: F401  (registers SyntheticDetDataset)

    register_all_modules(init_default_scope=True)
    pipeline = Config.fromfile(str(DATASET_CFG)).train_pipeline
    cfg = dict(type='SyntheticDetDataset' if kind == 'synthetic' else 'CocoDataset', data_root=str(data_root),
               ann_file='annotations.json', data_prefix=dict(img=''), metainfo=dict(classes=CLASSES),
               filter_cfg=dict(filter_empty_gt=True, min_size=0), pipeline=pipeline)
    rss_before = current_rss_mb()
    start = time.perf_counter()
    ds = DATASETS.build(cfg)
    ds.full_init()
    init_s = time.perf_counter() - start
    out = dict(kind=kind, length=len(ds), init_s=init_s, rss_before_mb=rss_before, rss_after_init_mb=current_rss_mb(),
               peak_rss_after_init_mb=peak_rss_mb())

    indices = random.Random(0).sample(range(len(ds)), samples)
    np.random.seed(0)
    random.seed(0)
    ds[indices[0]]  # warm-up: first image decode, lazy imports
    start = time.perf_counter()
    for i in indices:
        ds[i]
    out['samples_per_s'] = samples / (time.perf_counter() - start)
    out['peak_rss_mb'] = peak_rss_mb()

    if kind == 'synthetic':  # after the memory figures: rebuilding the info list costs memory
        ds.data_list = [ds.get_data_info(i) for i in range(len(ds))]
        start = time.perf_counter()
        ds.filter_data()  # mmdet's filters only (same as CocoDataset's)
        out['filter_mmdet_s'] = time.perf_counter() - start
        ds.filter_cfg = dict(ds.filter_cfg, min_precision=0.5, min_recall=0.5)
        start = time.perf_counter()
        kept = ds.filter_data()
        out['filter_pr_s'] = time.perf_counter() - start
        out['kept_by_pr'] = len(kept)
    return out


# -------------------------------------------------------------------------------- the comparison
def run(quick: bool = False, repeats: int | None = None, num_images: int | None = None,
        samples: int | None = None) -> dict[str, Any]:
    num_images = num_images or (5_000 if quick else 100_000)
    repeats = repeats or (1 if quick else 2)
    samples = samples or (20 if quick else 200)
    tmp = Path(tempfile.mkdtemp(prefix='bench_dataset_'))
    try:
        start = time.perf_counter()
        ann = make_annotations(tmp, num_images)
        setup_s = time.perf_counter() - start
        ann_mb = ann.stat().st_size / 2 ** 20
        runs: dict[str, list[dict[str, Any]]] = {'coco': [], 'synthetic': []}
        errors: dict[str, str] = {}
        for _ in range(repeats):
            for kind in runs:
                if kind in errors:
                    continue
                try:
                    runs[kind].append(run_json_subprocess([__file__, '--worker', kind, '--data-root', str(tmp),
                                                           '--samples', str(samples)], timeout=1800))
                except RuntimeError as e:  # a dataset that fails to load is reported, not measured
                    errors[kind] = str(e).strip().splitlines()[-1]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    settings = dict(num_images=num_images, boxes_per_image=10, annotation_mb=round(ann_mb, 1),
                    setup_s=round(setup_s, 1), repeats=repeats, pipeline_samples=samples,
                    pipeline='fish4knowledge_real.py train_pipeline (LoadImageFromFile, LoadAnnotations, '
                             'Resize 720x404, RandomFlip, PackDetInputs)', real_files_reused=8)
    title = 'SyntheticDetDataset vs CocoDataset at 100,000 images'
    if errors:
        reason = '; '.join(f'{kind} failed to load: {err}' for kind, err in errors.items())
        rows = [not_measured(m, reason, t) for m, t in (
            ('init time: SyntheticDetDataset vs CocoDataset', f'<= {RATIO_TARGET}x'),
            ('peak RSS (whole process)', f'<= {RATIO_TARGET}x'),
            ('train pipeline samples/s', None),
            ('filter by stored PR scores', f'< {FILTER_TARGET_S:g} s'))]
        return result('dataset_scale', title, settings, dict(runs=runs, errors=errors), rows)

    med, rows = summarize(runs, num_images, samples)
    return result('dataset_scale', title, settings, dict(median=med, runs=runs), rows)


def summarize(runs: dict[str, list[dict[str, Any]]], num_images: int,
              samples: int) -> tuple[dict[str, dict[str, float]], list[dict[str, Any]]]:
    """Medians per dataset over the worker runs, and the table rows."""
    med = {kind: {key: statistics.median(r[key] for r in rs) for key, value in rs[0].items()
                  if isinstance(value, (int, float))} for kind, rs in runs.items()}
    c, s = med['coco'], med['synthetic']
    pr_s = s['filter_pr_s'] - s['filter_mmdet_s']
    time_ratio = s['init_s'] / c['init_s']
    mem_ratio = s['peak_rss_mb'] / c['peak_rss_mb']
    growth_ratio = (s['peak_rss_mb'] - s['rss_before_mb']) / (c['peak_rss_mb'] - c['rss_before_mb'])
    full = num_images == 100_000
    rows = [
        row('init time (full_init): SyntheticDetDataset vs CocoDataset',
            f"{s['init_s']:.2f} s vs {c['init_s']:.2f} s = {time_ratio:.2f}x", f'<= {RATIO_TARGET}x',
            time_ratio <= RATIO_TARGET if full else None,
            '' if time_ratio <= RATIO_TARGET or not full else why_time(s, c)),
        row('peak RSS (whole process)', f"{s['peak_rss_mb']:.0f} MiB vs {c['peak_rss_mb']:.0f} MiB = {mem_ratio:.2f}x",
            f'<= {RATIO_TARGET}x', mem_ratio <= RATIO_TARGET if full else None,
            '' if mem_ratio <= RATIO_TARGET or not full else why_memory(s, c, growth_ratio)),
        row('  peak RSS growth over the post-import baseline',
            f"{s['peak_rss_mb'] - s['rss_before_mb']:.0f} MiB vs {c['peak_rss_mb'] - c['rss_before_mb']:.0f} MiB "
            f'= {growth_ratio:.2f}x'),
        row(f'train pipeline samples/s ({samples} samples, 1 process)',
            f"{s['samples_per_s']:.1f} vs {c['samples_per_s']:.1f} = {s['samples_per_s'] / c['samples_per_s']:.2f}x"),
        row(f'filter {num_images:,} images by stored PR scores (min P = min R = 0.5): the PR step',
            f"{pr_s:.3f} s (filter_data with PR thresholds {s['filter_pr_s']:.3f} s minus mmdet's own "
            f"empty/min-size filters, which CocoDataset runs too, {s['filter_mmdet_s']:.3f} s); "
            f"kept {s['kept_by_pr']:,.0f}", f'< {FILTER_TARGET_S:g} s', pr_s < FILTER_TARGET_S if full else None,
            '' if pr_s < FILTER_TARGET_S or not full else
            'per-image dict lookups in Python; a column of scores (numpy) filtered once would close it'),
    ]
    return med, rows


def why_time(s: dict[str, float], c: dict[str, float]) -> str:
    return (f"{s['init_s'] - c['init_s']:.1f} s more: SyntheticDetDataset's own per-image work is the path check and "
            'the compact score dicts (precision/recall per scorer) it puts in each data info, which mmengine then '
            'pickles; a numpy column of scores held beside the serialised infos would remove the second')


def why_memory(s: dict[str, float], c: dict[str, float], growth: float) -> str:
    return (f"the per-image score dicts held in every data info while the list is built and serialised "
            f"({growth:.2f}x the growth); a numpy column of scores beside the infos would close it")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser(__doc__)
    p.add_argument('--num-images', type=int, default=None, help='default 100,000 (5,000 with --quick)')
    p.add_argument('--samples', type=int, default=None, help='pipeline samples timed (default 200, 20 quick)')
    p.add_argument('--worker', choices=['coco', 'synthetic'], help=argparse_hidden())
    p.add_argument('--data-root', type=Path, help=argparse_hidden())
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.data_root, args.samples)))
        return {}
    res = run(args.quick, args.repeats, args.num_images, args.samples)
    res['machine'], res['versions'] = machine(), versions()
    return finish(res, args.out)


def argparse_hidden() -> str:
    import argparse
    return argparse.SUPPRESS


if __name__ == '__main__':
    main()
