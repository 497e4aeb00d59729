# CPU-sized real-only baseline on the shipped Fish4Knowledge sample (data/fish4knowledge-mini), used by
# `make demo` and the tests. Convert it first:
#   python tools/convert_dataset.py data/fish4knowledge-mini --format yolo --out data/fish4knowledge-mini-coco
_base_ = [
    '../_base_/datasets/fish4knowledge_real.py',
    '../_base_/models/fcos_r18_fpn_small-objects.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmgen_det'], allow_failed_imports=False)

data_root = 'data/fish4knowledge-mini-coco/'
train_dataloader = dict(
    batch_size=4, num_workers=2,
    dataset=dict(data_root=data_root))
val_dataloader = dict(num_workers=1, dataset=dict(data_root=data_root))
test_dataloader = dict(num_workers=1, dataset=dict(data_root=data_root))
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = dict(ann_file=data_root + 'annotations/test.json')

max_iters = 600
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=200)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.75)], gamma=0.1),
]
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=35, norm_type=2))
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=200, max_keep_ckpts=2,
                    save_best='coco/bbox_mAP', rule='greater'))
log_processor = dict(by_epoch=False)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
