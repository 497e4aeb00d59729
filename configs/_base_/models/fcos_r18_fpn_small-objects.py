# FCOS with a ResNet-18 + FPN sized for small objects on CPU: P3 (stride 8) is the finest level, regress
# ranges shifted down, narrow (64-channel) neck and head. The backbone loads an ImageNet checkpoint
# from `backbone_checkpoint`; a missing file is an error unless init_cfg allow_scratch=True (the CPU
# demo configs and recipes set it), which trains it from scratch, unfrozen, announced by a banner
# (see mmgen_det/engine/pretrained_init.py).
backbone_checkpoint = 'checkpoints/resnet18_imagenet.pth'
model = dict(
    type='FCOS',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(
        type='ResNet',
        depth=18,
        num_stages=4,
        out_indices=(1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(type='PretrainedOrScratch', checkpoint=backbone_checkpoint)),
    neck=dict(
        type='FPN',
        in_channels=[128, 256, 512],
        out_channels=64,
        start_level=0,
        add_extra_convs='on_output',
        num_outs=4,
        relu_before_extra_convs=True),
    bbox_head=dict(
        type='FCOSHead',
        in_channels=64,
        stacked_convs=2,
        feat_channels=64,
        strides=[8, 16, 32, 64],
        regress_ranges=((-1, 32), (32, 64), (64, 128), (128, 1e8)),
        norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
        norm_on_bbox=True,
        centerness_on_reg=True,
        center_sampling=True,
        center_sample_radius=1.5,
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=1.0),
        loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.5),
        max_per_img=100))
