# The full-size (GPU) schedule shared by every config of the detector family, so real-only, synthetic
# pretraining and real fine-tuning get the same compute: 12k iterations at batch 8 (about 1x, i.e.
# 12 epochs of a 9k-image synthetic set), linear warm-up, LR steps at 2/3 and 11/12 as in mmdet's 1x,
# validation on the real val split every `val_interval` iterations, the best checkpoint (by val mAP)
# kept for testing plus the last one (`iter_{max_iters}.pth`, what the fine-tune configs load).
# One LR for all four detectors (0.01 at batch 8, mmdet's Faster R-CNN rate; the gradient clipping
# keeps the single-stage heads stable at it). Includes mmdet's default runtime.
_base_ = 'mmdet::_base_/default_runtime.py'

max_iters = 12000
val_interval = 1000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[max_iters * 2 // 3, max_iters * 11 // 12], gamma=0.1),
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=35, norm_type=2))
# `--auto-scale-lr` scales the LR from this batch size (the family configs train at 8 on one GPU).
auto_scale_lr = dict(enable=False, base_batch_size=8)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=val_interval, max_keep_ckpts=1,
                    save_best='coco/bbox_mAP', rule='greater'))
log_processor = dict(by_epoch=False)
