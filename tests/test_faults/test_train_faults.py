"""Faults inside training with mmdet's STOCK train.py: the generation hook killed mid-set, then the
pretraining killed mid-epoch and resumed with ``--resume`` on the same synthetic set; and the same
config trained and tested by 2 CPU processes (gloo) through tools/dist_train.sh / dist_test.sh."""
from __future__ import annotations

import json
import re
import signal
import sys
from pathlib import Path

from helpers import REPO, run_command, run_tool, stock_mmdet_tool
from synthetic_sets import assert_complete_set, assert_same_images

PRETRAIN_CFG = REPO / 'configs' / 'demo' / 'fcos_r18_synthetic-pretrain_fish4knowledge-mini.py'
INJECT = str(REPO / 'tests' / 'fault_injection.py')
NUM_IMAGES = 6  # batch 2: an epoch is 3 iterations, so iteration 5 is in the middle of the second
MAX_ITERS = 8


def write_config(tmp_path: Path, fish_coco: Path, synthetic_root: Path) -> Path:
    """The demo pretrain config at the frames' own scale, a checkpoint every 2 iterations, no validation."""
    root = f'{fish_coco}/'
    real_ann = f'{fish_coco}/annotations/train.json'
    text = f'''
_base_ = {str(PRETRAIN_CFG)!r}
scale = (360, 202)
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root={f"{synthetic_root}/"!r},
                 generation=dict(num_images={NUM_IMAGES}, batch_size=4,
                                 layout=dict(ann_file={real_ann!r}),
                                 generator=dict(ann_file={real_ann!r}, img_root={root!r})),
                 pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True),
                           dict(type='Resize', scale=scale, keep_ratio=True), dict(type='PackDetInputs')]))
test_dataloader = dict(num_workers=0, persistent_workers=False,
                       dataset=dict(data_root={root!r}, ann_file='annotations/val.json',
                                    pipeline=[dict(type='LoadImageFromFile'),
                                              dict(type='Resize', scale=scale, keep_ratio=True),
                                              dict(type='LoadAnnotations', with_bbox=True),
                                              dict(type='PackDetInputs')]))
test_evaluator = dict(ann_file={root + 'annotations/val.json'!r})
val_dataloader = None
val_evaluator = None
val_cfg = None
train_cfg = dict(max_iters={MAX_ITERS}, val_interval={MAX_ITERS + 1})
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
default_hooks = dict(checkpoint=dict(interval=2, max_keep_ckpts=-1, save_best=None), logger=dict(interval=1))
model = dict(test_cfg=dict(score_thr=0.0))
'''
    path = tmp_path / 'pretrain_cfg.py'
    path.write_text(text)
    return path


def stock_train(cfg: Path, work: Path, *extra: str, inject: list[str] | None = None, check: bool = True):
    train = [stock_mmdet_tool('train.py'), str(cfg), '--work-dir', str(work), *extra]
    return run_tool([INJECT, *inject, '--', *train] if inject else train, env={'OMP_NUM_THREADS': '1'},
                    check=check)


def test_kill_generation_then_training_mid_epoch_then_resume(tmp_path, fish_coco):
    synthetic_root, work = tmp_path / 'synthetic', tmp_path / 'work'
    cfg = write_config(tmp_path, fish_coco, synthetic_root)
    reference = tmp_path / 'reference'
    run_tool(['tools/generate.py', str(cfg), '--out', str(reference), '--no-progress'])

    killed = stock_train(cfg, work, inject=['after-write', '3'], check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not (synthetic_root / 'annotations.json').exists() and not list(work.glob('*.pth'))

    # the rerun finishes the set, then dies at the start of iteration 5: iter_4.pth is the last checkpoint
    killed = stock_train(cfg, work, inject=['train-step', '5'], check=False)
    log = killed.stdout + killed.stderr
    assert killed.returncode == -signal.SIGKILL, log[-2000:]
    assert f'{NUM_IMAGES} images (3 already done, {NUM_IMAGES - 3} generated now' in log
    assert sorted(p.name for p in work.glob('iter_*.pth')) == ['iter_2.pth', 'iter_4.pth']
    annotations = (synthetic_root / 'annotations.json').read_bytes()

    resumed = stock_train(cfg, work, '--resume')
    log = resumed.stdout + resumed.stderr
    assert re.search(r'resumed epoch: \d+, iter: 4\n', log), log[-3000:]
    assert 'Advance dataloader 4 steps' in log  # the mid-epoch position is restored, not the epoch start
    assert f'{NUM_IMAGES} images ({NUM_IMAGES} already done, 0 generated now' in log
    assert re.search(rf'Iter\(train\) \[{MAX_ITERS}/{MAX_ITERS}\]', log)
    assert not re.search(r'Iter\(train\) \[\s*[1-4]/', log), 'iterations 1-4 were trained again'
    assert (work / f'iter_{MAX_ITERS}.pth').is_file()
    assert (synthetic_root / 'annotations.json').read_bytes() == annotations
    assert_complete_set(synthetic_root, NUM_IMAGES)
    assert_same_images(reference, synthetic_root)


def test_dist_train_and_test_with_two_cpu_processes(tmp_path, fish_coco):
    synthetic_root, work = tmp_path / 'synthetic', tmp_path / 'work'
    cfg = write_config(tmp_path, fish_coco, synthetic_root)
    env = dict(PYTHON=sys.executable, PORT='29541', OMP_NUM_THREADS='1')
    proc = run_command(['bash', 'tools/dist_train.sh', str(cfg), '2', '--work-dir', str(work),
                     '--cfg-options', 'train_cfg.max_iters=2'], env=env)
    log = proc.stdout + proc.stderr
    assert 'Distributed launcher: pytorch' in log and 'Distributed training: True' in log, log[-3000:]
    # each rank generated its half of the set (rank 0 logs its summary; both show progress)
    assert f'{NUM_IMAGES} images (0 already done, {NUM_IMAGES // 2} generated now' in log
    assert 'generating synthetic (rank 1/2)' in log
    # 6 images, 2 ranks x batch 2: an epoch is 2 iterations per rank
    assert re.search(r'Iter\(train\) \[2/2\]', log), log[-3000:]
    assert_complete_set(synthetic_root, NUM_IMAGES)

    env['PORT'] = '29542'
    test = tmp_path / 'test'
    run_command(['bash', 'tools/dist_test.sh', str(cfg), str(work / 'iter_2.pth'), '2', '--work-dir', str(test)],
             env=env)
    # mmengine's LoggerHook dumps this file from every rank at once: a shorter write over a longer one
    # leaves the longer one's tail after a complete object (`...}}`), so read the first object
    metrics = json.JSONDecoder().raw_decode(next(test.glob('*/*.json')).read_text())[0]
    assert 0.0 <= metrics['coco/bbox_mAP'] <= 1.0
