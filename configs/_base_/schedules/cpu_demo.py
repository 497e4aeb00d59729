# A short iteration-based schedule for CPU runs: warm-up, one LR step, validation on the real val split
# every `val_interval` iterations, and the best checkpoint (by val mAP) kept for testing. Includes mmdet's
# default runtime, whose hooks and log settings it adjusts.
_base_ = 'mmdet::_base_/default_runtime.py'

max_iters = 600
val_interval = 200
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.75)], gamma=0.1),
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=35, norm_type=2))
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=val_interval, max_keep_ckpts=1,
                    save_best='coco/bbox_mAP', rule='greater'))
log_processor = dict(by_epoch=False)
