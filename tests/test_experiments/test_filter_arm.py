"""The PR-filter factor end to end in tools/run_experiment.py: a filter detector trained on the arm's N
real images only, the generated set scored with it, the pretrain reading the set filtered on the stored
scores, and the row recording what was kept."""
from __future__ import annotations

import json
import re

from helpers import REPO, run_tool

from mmgen_det.experiments.cache import read_stage_log
from mmgen_det.experiments.report import read_csv
from mmgen_det.filters.scoring import passes
from mmgen_det.utils.io import read_json

FILTER_DETECTOR = REPO / 'configs/filter/faster-rcnn_r18-w16_fpn_scratch-filter_fish4knowledge-mini.py'
TINY = f'''
_base_ = [{str(REPO / 'configs/experiments/demo_fish4knowledge-mini.py')!r}]
name = 'tiny-filter'
data = dict(val_images=2, test_images=2)
num_real = [4]
arms = ['synthetic-pretrain']
generators = {{'copy-paste': dict(images_per_real=2)}}
# thresholds 0 keep every scored image: a 2-iteration filter detector finds nothing to rank by
filters = {{'_delete_': True, 'pr': dict(type='pr', min_precision=0.0, min_recall=0.0)}}
filter_detector = dict(config={str(FILTER_DETECTOR)!r}, score_thr=0.0, iou_thr=0.5,
                       schedule=dict(max_iters=2, val_interval=2, patience=None, warmup_iters=1))
schedules = dict(default=dict(max_iters=2, val_interval=2, patience=1, warmup_iters=1),
                 finetune=dict(max_iters=2))
cfg_options = {{'train_dataloader.batch_size': 1, 'train_dataloader.num_workers': 0,
               'train_dataloader.dataset.pipeline': [
                   dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True),
                   dict(type='Resize', scale=(360, 202), keep_ratio=True), dict(type='PackDetInputs')],
               'val_dataloader.dataset.pipeline.1.scale': (360, 202),
               'test_dataloader.dataset.pipeline.1.scale': (360, 202)}}
'''


def stage_dir(work, stage: str):
    (found,) = (work / 'stages' / stage).iterdir()
    return found


def test_pr_filter_arm(tmp_path):
    config = tmp_path / 'tiny.py'
    config.write_text(TINY)
    work = tmp_path / 'work'
    run_tool(['tools/run_experiment.py', str(config), '--work-dir', str(work)], timeout=800)
    ran = {e['stage'] for e in read_stage_log(work) if e['status'] == 'ran'}
    assert {'filter-detector', 'score', 'pretrain', 'finetune', 'test'} <= ran

    subset = read_json(stage_dir(work, 'subset') / 'train.json')
    assert len(subset['images']) == 4
    detector_cfg = (stage_dir(work, 'filter-detector') / 'config.py').read_text()
    assert str(stage_dir(work, 'subset') / 'train.json') in detector_cfg  # never more real data than N

    (row,) = read_csv(work / 'results.csv')
    assert (row['arm'], row['filter']) == ('synthetic-pretrain', 'pr')
    coco = read_json(stage_dir(work, 'generate') / 'set' / 'annotations.json')
    (pr_key,) = {key for im in coco['images'] for key in im['pr_filter']}
    boxed = {a['image_id'] for a in coco['annotations']}
    kept = [im for im in coco['images'] if im['id'] in boxed and passes(im['pr_filter'][pr_key], 0.0, 0.0)]
    assert int(row['num_synthetic']) == len(kept) > 0
    pretrain_cfg = (stage_dir(work, 'pretrain') / 'config.py').read_text()
    assert pr_key in pretrain_cfg and 'min_precision=0.0' in pretrain_cfg

    # make bench collects these stages' seconds and peak memory from the stage log (bench_demo_stages.py)
    out = tmp_path / 'demo_stages.json'
    run_tool(['benchmarks/bench_demo_stages.py', '--work-dir', str(work), '--out', str(out)])
    rows = {r['metric']: r['value'] for r in json.loads(out.read_text())['rows']}
    assert re.fullmatch(r'[\d.]+ s, peak RSS \d+ MiB, 2 iterations', rows['stage filter-detector N4_s0'])
    assert rows['arm synthetic-pretrain N=4 (copy-paste, pr)'].startswith('mAP ')
