# CPU-sized PR-filter detector for the shipped sample (data/fish4knowledge-mini), used by the tests and
# benchmarks/filter_auc.py: the R50 filter config with a ResNet-18, a narrow (64-channel) FPN and heads.
# It starts from the ImageNet R18 backbone when present, from scratch (allowed here, announced) otherwise.
# Frames stay at their own size (no 2x upscale, 4x cheaper): Faster R-CNN's FPN starts at stride 4,
# and 16-pixel anchors (scale 4 at stride 4) fit the mostly sub-16-pixel fish.
_base_ = ['./faster-rcnn_r50_fpn_filter_fish4knowledge.py']

data_root = 'data/fish4knowledge-mini-coco/'
backbone_checkpoint = 'checkpoints/resnet18_imagenet.pth'
channels = 64
model = dict(
    backbone=dict(depth=18, init_cfg=dict(checkpoint=backbone_checkpoint, allow_scratch=True)),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=channels),
    rpn_head=dict(in_channels=channels, feat_channels=channels, anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=channels),
        bbox_head=dict(in_channels=channels, fc_out_channels=256)))

img_scale = (360, 202)
# the dataset base's pipelines at this scale (see configs/_base_/datasets/fish4knowledge_real.py)
train_pipeline = [dict(step, scale=img_scale) if step.type == 'Resize' else step for step in _base_.train_pipeline]
test_pipeline = [dict(step, scale=img_scale) if step.type == 'Resize' else step for step in _base_.test_pipeline]
train_dataloader = dict(batch_size=4, num_workers=2,
                        dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(num_workers=1, dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = dict(num_workers=1, dataset=dict(data_root=data_root, pipeline=test_pipeline))
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = dict(ann_file=data_root + 'annotations/test.json')

max_iters = 600
train_cfg = dict(max_iters=max_iters, val_interval=200)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.75)], gamma=0.1),
]
optim_wrapper = dict(clip_grad=dict(max_norm=35, norm_type=2))
default_hooks = dict(checkpoint=dict(interval=200))
