"""How long each training runs per device, how it is validated, and what a dry run estimates.

The same :func:`schedule_cfg` renders the derived detector config's schedule (what stock
``tools/train.py`` runs) and each experiment stage's, so a config and the stage that trains it agree.
"""
from __future__ import annotations

from typing import Any

from ..experiments.config import MONITOR, Schedule

#: iteration schedules of the few-image protocol per device. CPU: every arm trains the same fixed number
#: of iterations with no early stop, so the real-only run is its own compute-matched control, and the
#: cosine decay's last checkpoint is the one tested: validation runs once, at the end, for the record.
#: 1,200 iterations (900 pretrain + 300 fine-tune; about 6 minutes each on 2 cores with the frozen
#: Lite0): one N and seed with the four default arms take about 21 minutes, 15 without the mixed arm
#: (`make demo`). GPU: early stop, counted from 30% of max_iters on.
SCHEDULES = dict(
    cpu=dict(default=dict(max_iters=1200, val_interval=1200, patience=None, warmup_iters=50, lr_decay='cosine'),
             pretrain=dict(max_iters=900, val_interval=900),
             finetune=dict(max_iters=300, val_interval=300)),
    gpu=dict(default=dict(max_iters=12000, val_interval=500, patience=4, min_delta=0.002, warmup_iters=500,
                          lr_steps=(0.67, 0.92), early_stop_begin=0.3),
             finetune=dict(max_iters=6000)))
#: checkpoint choice on a fixed subset of the val split on a CPU (validation is most of a CPU run's cost)
VAL_IMAGES = dict(cpu=25, gpu=None)
#: seconds on 2 CPU cores / one GPU, for --dry-run only
ESTIMATES = dict(
    cpu=dict(device='CPU', seconds_per_iter=0.3, seconds_per_eval_image=0.45, seconds_per_scored_image=0.1,
             seconds_per_generated_image={'copy-paste': 0.02, 'copy-paste-diverse': 0.04, 'copy-paste-scene': 0.04,
                                          'gligen-text': 30.0,
                                          'gligen-image': 30.0, 'gligen-inpaint': 50.0}),
    gpu=dict(device='GPU', seconds_per_iter=0.4, seconds_per_eval_image=0.05, seconds_per_scored_image=0.05,
             seconds_per_generated_image={'copy-paste': 0.02, 'copy-paste-diverse': 0.04, 'copy-paste-scene': 0.04,
                                          'gligen-text': 3.0,
                                          'gligen-image': 3.5, 'gligen-inpaint': 5.0}))
CPU_LOADERS = {'train_dataloader.num_workers': 1, 'train_dataloader.persistent_workers': False,
               'val_dataloader.num_workers': 0, 'val_dataloader.persistent_workers': False,
               'test_dataloader.num_workers': 0, 'test_dataloader.persistent_workers': False}


def default_num_real(train_images: int, device: str) -> list[int | str]:
    """CPU: one N (50, or all when fewer); GPU: a data-efficiency curve up to all images."""
    if device == 'cpu':
        return [min(50, train_images)]
    return [n for n in (10, 50, 100, 300) if n < train_images] + ['all']


def schedule_cfg(schedule: Schedule) -> dict[str, Any]:
    """Loop, LR schedule, checkpointing and early stop for one training stage (pure)."""
    if schedule.lr_decay == 'cosine':
        begin = min(schedule.warmup_iters, schedule.max_iters - 1)  # mmengine needs end > begin
        scheduler = [dict(type='CosineAnnealingLR', by_epoch=False, begin=begin, end=schedule.max_iters,
                          T_max=schedule.max_iters - begin, eta_min=0.)]
    else:
        steps = sorted({int(f * schedule.max_iters) for f in schedule.lr_steps} - {0})
        scheduler = [dict(type='MultiStepLR', by_epoch=False, begin=0, end=schedule.max_iters, milestones=steps,
                          gamma=0.1)]
    if schedule.warmup_iters > 0:
        scheduler.insert(0, dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
                                 end=schedule.warmup_iters))
    hooks = []
    if schedule.patience is not None:
        hooks.append(dict(type='DelayedEarlyStoppingHook', monitor=MONITOR, rule='greater', patience=schedule.patience,
                          min_delta=schedule.min_delta, begin=int(schedule.early_stop_begin * schedule.max_iters)))
    return dict(
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=schedule.max_iters, val_interval=schedule.val_interval),
        param_scheduler=scheduler,
        # only the best-val checkpoint (what is tested) and the last one (the fallback when no validation
        # produced metrics): a stage that is killed is rerun whole, so periodic checkpoints only cost time
        checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=-1, save_last=True, max_keep_ckpts=1,
                        save_best=MONITOR, rule='greater'),
        early_stopping=hooks)
