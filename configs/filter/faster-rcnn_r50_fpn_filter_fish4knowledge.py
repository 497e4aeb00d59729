# The PR-filter detector: Faster R-CNN R50-FPN trained on the SAME N-image real subset as the experiment
# arm it filters for (never more real data than that arm may use). Set `real_ann_file` to the arm's
# subset (tools/make_subset.py); tools/run_experiment.py does this per arm.
#
# Initialisation: the backbone loads `backbone_checkpoint` (ImageNet); a missing file is an error unless
# `model.backbone.init_cfg.allow_scratch=True` (PretrainedOrScratch). With a COCO Faster R-CNN checkpoint,
# start the whole detector from it (its 80-class head is skipped with a size-mismatch warning and
# relearnt for the 7 species):
#   python tools/train.py configs/filter/faster-rcnn_r50_fpn_filter_fish4knowledge.py \
#       --cfg-options load_from=checkpoints/faster-rcnn_r50_fpn_1x_coco.pth
# (opt-in because mmengine's load_from fails on a missing file, and a config cannot test for the file
# without `import`, which turns it into a lazy-import config that cannot inherit these bases.)
#   python tools/pr_filter.py SYNTH_DIR --detector-config THIS --checkpoint work_dirs/.../iter_3000.pth
_base_ = [
    '../_base_/datasets/fish4knowledge_real.py',
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmgen_det'], allow_failed_imports=False)

data_root = 'data/fish4knowledge-coco/'
real_ann_file = 'annotations/train.json'  # the arm's N-image subset, relative to data_root
backbone_checkpoint = 'checkpoints/resnet50_imagenet.pth'
load_from = None

model = dict(
    backbone=dict(init_cfg=dict(type='PretrainedOrScratch', checkpoint=backbone_checkpoint)),
    roi_head=dict(bbox_head=dict(num_classes={{_base_.num_classes}})))

train_dataloader = dict(dataset=dict(data_root=data_root, ann_file=real_ann_file))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = dict(ann_file=data_root + 'annotations/test.json')

max_iters = 3000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=1000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=200),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.75)], gamma=0.1),
]
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001))
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=1000, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
