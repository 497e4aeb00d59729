"""The demo config runs under mmdet's STOCK train.py / test.py: train one epoch with a step scheduler,
save, resume, evaluate with COCO metrics."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import REPO, run_tool, stock_mmdet_tool

DEMO_CFG = REPO / 'configs' / 'demo' / 'fcos_r18_real-only_fish4knowledge-mini.py'


def write_epoch_config(tmp_path: Path, data_root: Path, train_ann: str, eval_ann: str) -> Path:
    """A config inheriting the demo one, switched to an epoch loop with a MultiStepLR step schedule."""
    root = f'{data_root}/'
    text = f'''
_base_ = {str(DEMO_CFG)!r}
data_root = {root!r}
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, ann_file={train_ann!r}))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, ann_file={eval_ann!r}))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + {eval_ann!r})
test_evaluator = val_evaluator
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=1, val_interval=1)
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, begin=0, end=4, milestones=[1], gamma=0.1)]
default_hooks = dict(checkpoint=dict(_delete_=True, type='CheckpointHook', interval=1, by_epoch=True),
                     logger=dict(interval=1))
log_processor = dict(by_epoch=True)
# an untrained model may score every box under the demo's 0.05: CocoMetric then returns no metrics
model = dict(test_cfg=dict(score_thr=0.0))
'''
    path = tmp_path / 'epoch_cfg.py'
    path.write_text(text)
    return path


@pytest.fixture(scope='module')
def tiny_split(fish_coco: Path) -> tuple[str, str]:
    """4 training images and 4 evaluation images, so the test spends seconds, not minutes."""
    run_tool(['tools/make_subset.py', f'{fish_coco}/annotations/train.json', '--num-images', '4',
              '--seed', '0', '--out', f'{fish_coco}/annotations/train_4.json'])
    run_tool(['tools/make_subset.py', f'{fish_coco}/annotations/test.json', '--num-images', '4',
              '--seed', '0', '--out', f'{fish_coco}/annotations/test_4.json'])
    return 'annotations/train_4.json', 'annotations/test_4.json'


def test_stock_train_resume_test(tmp_path, fish_coco, tiny_split):
    import torch

    import mmgen_det  # noqa: F401  registers the checkpoint allow-list for the torch.load below
    cfg = write_epoch_config(tmp_path, fish_coco, *tiny_split)
    work = tmp_path / 'work'
    run_tool([stock_mmdet_tool('train.py'), str(cfg), '--work-dir', str(work)])
    ckpt = work / 'epoch_1.pth'
    assert ckpt.is_file()
    # The full checkpoint (message hub, scheduler state) loads with torch's default weights_only=True.
    state = torch.load(ckpt, map_location='cpu')
    assert state['meta']['epoch'] == 1 and 'message_hub' in state and 'param_schedulers' in state

    proc = run_tool([stock_mmdet_tool('train.py'), str(cfg), '--work-dir', str(work), '--resume',
                     '--cfg-options', 'train_cfg.max_epochs=2'])
    log = proc.stdout + proc.stderr
    assert 'resumed epoch: 1' in log, log[-3000:]
    assert (work / 'epoch_2.pth').is_file()
    resumed = torch.load(work / 'epoch_2.pth', map_location='cpu')
    # MultiStepLR stepped at epoch 1: the resumed run continued the schedule instead of restarting it
    assert resumed['param_schedulers'][0]['last_step'] == 2
    assert resumed['optimizer']['param_groups'][0]['lr'] == pytest.approx(0.001)

    test_work = tmp_path / 'test'
    run_tool([stock_mmdet_tool('test.py'), str(cfg), str(work / 'epoch_2.pth'), '--work-dir', str(test_work)])
    metric_files = list(test_work.glob('*/*.json'))
    assert metric_files, 'test.py wrote no metrics json'
    metrics = json.loads(metric_files[0].read_text())
    assert 'coco/bbox_mAP' in metrics and 'coco/bbox_mAP_50' in metrics
    assert 0.0 <= metrics['coco/bbox_mAP'] <= 1.0
