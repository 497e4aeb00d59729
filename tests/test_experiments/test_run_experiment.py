"""A 2-point sweep end to end on CPU with tiny settings: results.csv / report.md / plots; a rerun
runs no stage at all; a results.csv row re-evaluated with mmdet's STOCK test.py gives the same mAP."""
from __future__ import annotations

import json

import pytest
from helpers import REPO, run_tool, stock_mmdet_tool

from mmgen_det.experiments.cache import read_stage_log
from mmgen_det.experiments.report import read_csv

# Two arms keep the test under 3 minutes on 2 cores (each stage builds a Runner: ~10 s before any
# iteration). mixed: test_stage_configs.py; compute-matched: test_config.py and the demo.
ARMS = ['real-only', 'synthetic-pretrain']
TINY = f'''
_base_ = [{str(REPO / 'configs/experiments/demo_fish4knowledge-mini.py')!r}]
name = 'tiny'
data = dict(val_images=2, test_images=2)
num_real = [2, 4]
arms = {ARMS!r}
generators = {{'copy-paste': dict(images_per_real=2)}}
schedules = dict(default=dict(max_iters=2, val_interval=2, patience=1, warmup_iters=1),
                 pretrain=dict(max_iters=2), finetune=dict(max_iters=2))
# half the demo's input scale; score_thr 0 so that an untrained model still outputs boxes to score
cfg_options = {{'train_dataloader.batch_size': 1, 'train_dataloader.num_workers': 0,
               'model.test_cfg.score_thr': 0.0,
               'train_dataloader.dataset.pipeline': [
                   dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True),
                   dict(type='Resize', scale=(360, 202), keep_ratio=True), dict(type='PackDetInputs')],
               'val_dataloader.dataset.pipeline.1.scale': (360, 202),
               'test_dataloader.dataset.pipeline.1.scale': (360, 202)}}
'''


@pytest.fixture(scope='module')
def sweep(tmp_path_factory):
    """Run the tiny sweep twice; returns (work dir, stage-log lines of the first run, rerun stdout)."""
    tmp = tmp_path_factory.mktemp('experiment')
    config = tmp / 'tiny.py'
    config.write_text(TINY)
    work = tmp / 'work'
    run_tool(['tools/run_experiment.py', str(config), '--work-dir', str(work)], timeout=800)
    first = len(read_stage_log(work))
    rerun = run_tool(['tools/run_experiment.py', str(config), '--work-dir', str(work)], timeout=800)
    return work, first, rerun.stdout


def test_outputs(sweep):
    work, _, stdout = sweep
    rows = read_csv(work / 'results.csv')
    assert sorted((int(r['num_real']), r['arm']) for r in rows) == sorted((n, a) for n in (2, 4) for a in ARMS)
    for row in rows:
        assert 0.0 <= float(row['mAP']) <= 1.0 and 0.0 <= float(row['mAP50']) <= 1.0
        assert int(row['iterations']) > 0 and float(row['wall_seconds']) > 0
        assert {f'AP_{c}' for c in ('0', '1', '2', '5', '6', '7', '8')} <= set(row)
    by = {(int(r['num_real']), r['arm']): r for r in rows}
    for n in (2, 4):
        assert int(by[n, 'synthetic-pretrain']['num_synthetic']) == 2 * n
        assert by[n, 'synthetic-pretrain']['stage_iterations'] == 'pretrain=2 finetune=2'
        assert int(by[n, 'synthetic-pretrain']['iterations']) == 4 and int(by[n, 'real-only']['iterations']) == 2
    for row in rows:  # every test kept its detections, and the verdict of its series is in the csv
        assert json.loads(open(row['detections']).read()) is not None
        assert (row['verdict'] == '') == (row['arm'] == 'real-only') and row['mAP_low'] != ''
    report = (work / 'report.md').read_text()
    assert '| N | arm |' in report and '## Is the difference real?' in report
    assert f"vs real-only {by[4, 'synthetic-pretrain']['verdict']}" in report
    assert '- test boxes per class: `0` ' in report
    assert (work / 'map_vs_n.png').stat().st_size > 1000
    assert (work / 'samples_copy-paste.png').stat().st_size > 1000
    assert 'run_experiment: 4 runs' in stdout


def test_rerun_runs_no_stage(sweep):
    work, first, stdout = sweep
    ran = [e for e in read_stage_log(work)[:first] if e['status'] == 'ran']
    assert all(e['seconds'] >= 0 and e['peak_rss_mib'] > 100 for e in ran), ran  # python + torch alone is more
    rerun = read_stage_log(work)[first:]
    assert rerun, 'the rerun logged no stage'
    assert [e for e in rerun if e['status'] == 'ran'] == []
    assert '0 stages run (0 trainings)' in stdout


def test_stock_test_py_reproduces_a_row(sweep, tmp_path):
    work, _, _ = sweep
    row = next(r for r in read_csv(work / 'results.csv') if r['arm'] == 'synthetic-pretrain' and r['num_real'] == '4')
    run_tool([stock_mmdet_tool('test.py'), row['test_config'], row['checkpoint'], '--work-dir', str(tmp_path)])
    metrics = json.loads(next(tmp_path.glob('*/*.json')).read_text())
    assert metrics['coco/bbox_mAP'] == float(row['mAP'])
    assert metrics['coco/bbox_mAP_50'] == float(row['mAP50'])


def test_two_processes_run_the_sweep_and_agree_on_the_cache(tmp_path):
    """torchrun with 2 CPU processes (gloo): rank 0 alone runs the data/subset/generation stages while
    the other waits, every training is one DDP run; a rerun finds every stage cached on both ranks."""
    config = tmp_path / 'tiny.py'
    config.write_text(TINY.replace('num_real = [2, 4]', 'num_real = [4]'))
    work = tmp_path / 'work'
    args = ['-m', 'torch.distributed.run', '--nproc-per-node', '2', '--master-port', '29563',
            'tools/run_experiment.py', str(config), '--work-dir', str(work), '--launcher', 'pytorch']
    proc = run_tool(args, env={'OMP_NUM_THREADS': '1'}, timeout=800)
    assert 'run_experiment: 2 runs, 8 stages run (3 trainings), 0 cached' in proc.stdout, proc.stdout[-3000:]
    assert [(r['num_real'], r['arm']) for r in read_csv(work / 'results.csv')] == \
        [('4', 'real-only'), ('4', 'synthetic-pretrain')]
    rerun = run_tool(args, env={'OMP_NUM_THREADS': '1'}, timeout=800)
    assert '0 stages run (0 trainings)' in rerun.stdout
