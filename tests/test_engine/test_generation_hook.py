"""mmdet's STOCK train.py with a synthetic-pretrain config generates the set, then trains on all of it."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import REPO, run_tool, stock_mmdet_tool

PRETRAIN_CFG = REPO / 'configs' / 'demo' / 'fcos_r18_synthetic-pretrain_fish4knowledge-mini.py'


def write_config(tmp_path: Path, fish_coco: Path, synthetic_root: Path, num_images: int) -> Path:
    root = f'{fish_coco}/'
    real_ann = f'{fish_coco}/annotations/train.json'
    text = f'''
_base_ = {str(PRETRAIN_CFG)!r}
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root={f"{synthetic_root}/"!r},
                 generation=dict(num_images={num_images}, batch_size=4,
                                 layout=dict(ann_file={real_ann!r}),
                                 generator=dict(ann_file={real_ann!r}, img_root={root!r}))))
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(data_root={root!r}))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file={root + 'annotations/val.json'!r})
test_evaluator = val_evaluator
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=1, val_interval=10)
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, begin=0, end=1, milestones=[1])]
default_hooks = dict(checkpoint=dict(_delete_=True, type='CheckpointHook', interval=1, by_epoch=True),
                     logger=dict(interval=1))
log_processor = dict(by_epoch=True)
'''
    path = tmp_path / 'pretrain_cfg.py'
    path.write_text(text)
    return path


def test_stock_train_generates_then_trains_on_the_whole_set(tmp_path, fish_coco):
    synthetic_root = tmp_path / 'synthetic'
    cfg = write_config(tmp_path, fish_coco, synthetic_root, num_images=6)
    work = tmp_path / 'work'
    proc = run_tool([stock_mmdet_tool('train.py'), str(cfg), '--work-dir', str(work)])
    log = proc.stdout + proc.stderr
    coco = json.loads((synthetic_root / 'annotations.json').read_text())
    assert len(coco['images']) == 6
    assert '6 generated now' in log
    # 6 images at batch 2: the epoch built AFTER generation has 3 iterations
    assert re.search(r'Epoch\(train\)\s+\[1\]\[3/3\]', log), log[-3000:]
    assert (work / 'epoch_1.pth').is_file()

    # a second run finds the set complete and goes straight to training
    proc = run_tool([stock_mmdet_tool('train.py'), str(cfg), '--work-dir', str(tmp_path / 'work2')])
    log = proc.stdout + proc.stderr
    assert '0 generated now' in log and re.search(r'\[1\]\[3/3\]', log)


def test_missing_set_without_hook_is_a_clear_error(tmp_path, fish_coco):
    cfg = write_config(tmp_path, fish_coco, tmp_path / 'never_made', num_images=2)
    proc = run_tool([stock_mmdet_tool('train.py'), str(cfg), '--work-dir', str(tmp_path / 'w'),
                     '--cfg-options', 'custom_hooks=[]'], check=False)
    assert proc.returncode != 0
    assert 'the synthetic set has not been generated' in proc.stderr + proc.stdout
    assert 'GLIGENGenerationHook' in proc.stderr + proc.stdout
