"""`tools/run_experiment.py --dry-run` resolves every stage of the shipped experiment configs, prints
image counts and a compute estimate, and writes nothing (CI runs this)."""
from __future__ import annotations

import pytest
from conftest import SHARED_DATA
from helpers import REPO, run_tool

REFERENCE = 'configs/experiments/reference_fish4knowledge.py'
# 30 generated images per real image, N = 10 + 50 + 100 + 300 + all (1,315), 3 seeds, 3 generators
REFERENCE_GENERATED = 30 * (10 + 50 + 100 + 300 + 1315) * 3 * 3


def dry_run(config: str, work_dir, *options: str) -> str:
    args = ['tools/run_experiment.py', config, '--dry-run', '--work-dir', str(work_dir)]
    proc = run_tool(args + (['--cfg-options', *options] if options else []), timeout=300)
    assert not work_dir.exists(), 'a dry run must not write anything'
    return proc.stdout


def generate_images(out: str) -> int:
    line = next(line for line in out.splitlines() if line.startswith('generate '))
    return int(line.split()[3])


def test_reference_config_dry_run_with_declared_counts(tmp_path):
    # data/fish4knowledge is not shipped: counts come from the config's declared split sizes
    out = dry_run(REFERENCE, tmp_path / 'work')
    assert 'declared in the config' in out
    assert generate_images(out) == REFERENCE_GENERATED
    # per N x seed: subset, real, compute-matched, filter-detector, 3 x (generate, score),
    # 3 generators x 2 filters x (pretrain, finetune, mixed) and 1 + 1 + 3 x 2 x 3 tests
    per_run = 1 + 1 + 1 + 1 + 3 * 2 + 3 * 2 * 3 + (2 + 3 * 2 * 3)
    assert f'{1 + 5 * 3 * per_run} stages resolved, {1 + 5 * 3 * per_run} to run, 0 cached' in out
    hours = float(out.split('estimated compute still to run: ')[1].split()[0])
    assert 100 < hours < 10000, out[-2000:]


@pytest.mark.skipif(not (SHARED_DATA / 'fish4knowledge').is_dir(),
                    reason='the full Fish4Knowledge copy (../shared/data/fish4knowledge) is not on this machine')
def test_reference_config_dry_run_reads_the_real_counts(tmp_path):
    out = dry_run(REFERENCE, tmp_path / 'work', f'data.source={SHARED_DATA / "fish4knowledge"}',
                  'num_real=[10,all]', 'seeds=[0]')
    assert f'read from {SHARED_DATA / "fish4knowledge"}' in out
    assert generate_images(out) == 30 * (10 + 1315) * 3


def test_demo_config_dry_run(tmp_path):
    out = dry_run('configs/experiments/demo_fish4knowledge-mini.py', tmp_path / 'work')
    assert 'read from data/fish4knowledge-mini' in out
    assert generate_images(out) == 8 * 50
    assert 'run_experiment --dry-run: 10 stages resolved, 10 to run, 0 cached' in out


def test_config_errors_are_one_clear_line(tmp_path):
    bad = tmp_path / 'bad.py'
    bad.write_text(f"_base_ = [{str(REPO / 'configs/experiments/demo_fish4knowledge-mini.py')!r}]\n"
                   "arms = ['real-only', 'compute-matched', 'synthetic-pretrain', 'typo']\n")
    proc = run_tool(['tools/run_experiment.py', str(bad), '--dry-run'], check=False)
    assert proc.returncode != 0
    assert "run_experiment: unknown arms ['typo']" in proc.stderr


def test_a_fixed_length_real_only_run_is_its_own_compute_matched_control(tmp_path):
    # no early stop anywhere and real-only as long as pretrain + finetune: one training, one test
    fixed = ['schedules.default.patience=None', 'schedules.default.max_iters=400', 'schedules.pretrain.max_iters=250',
             'schedules.finetune.max_iters=150']
    demo = 'configs/experiments/demo_fish4knowledge-mini.py'
    assert 'run_experiment --dry-run: 8 stages resolved, 8 to run' in dry_run(demo, tmp_path / 'work', *fixed)
    longer = fixed[:-1] + ['schedules.finetune.max_iters=200']  # the control must train 450: a stage of its own
    assert 'run_experiment --dry-run: 10 stages resolved' in dry_run(demo, tmp_path / 'w2', *longer)


def test_a_missing_backbone_checkpoint_stops_the_sweep_with_one_line(tmp_path):
    missing = tmp_path / 'resnet50_imagenet.pth'
    proc = run_tool(['tools/run_experiment.py', REFERENCE, '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                     f'data.source={REPO / "data" / "fish4knowledge-mini"}', 'data.image_mode=symlink',
                     'num_real=[10]', 'seeds=[0]', f'cfg_options.model.backbone.init_cfg.checkpoint={missing}'], check=False, timeout=600)
    assert proc.returncode != 0 and 'Traceback' not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith('run_experiment: ') and str(missing) in proc.stderr
