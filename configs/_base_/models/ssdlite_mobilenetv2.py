# SSDLite MobileNetV2: the CPU-light MobileNet detector (mmdet's ssdlite_mobilenetv2-scratch recipe,
# depthwise SSD neck and head, ReLU6, BN eps 1e-3 / momentum 0.03), adapted to small objects:
# - one more, finer input level: MobileNetV2 out_indices (2, 4, 7) = strides 8/16/32 (mmdet: 16/32),
#   plus three extra SSD levels -> strides 8 to 256;
# - anchors 12-320 px (min_sizes/max_sizes below; mmdet: 48-320 px for a 320x320 input) for fish of
#   8-250 px at the 2x input scale;
# - the dataset's keep-ratio 720x404 pipeline instead of SSD's 320x320 squash + Expand/MinIoURandomCrop
#   (which shrink the fish further), so all detectors of the family see the same images;
#   pad_size_divisor=32 keeps every level's grid aligned with its stride.
# The head is `FixedSSDHead` (mmgen_det/compat/ssd_predict.py): mmdet 3.3.0's SSDHead trains but
# cannot predict (AttributeError: 'SSDHead' object has no attribute 'loss_cls').
#
# Backbone weights: `backbone_checkpoint`, as in faster-rcnn_mobilenetv2_fpn.py. With them the whole
# network is fine-tuned (mmdet trains SSDLite unfrozen); missing -> an error, unless init_cfg
# allow_scratch=True (the CPU recipe sets it): from scratch, announced.
backbone_checkpoint = 'checkpoints/mobilenetv2_imagenet.pth'
norm_cfg = dict(type='BN', eps=0.001, momentum=0.03)
model = dict(
    type='SingleStageDetector',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(
        type='MobileNetV2',
        out_indices=(2, 4, 7),
        norm_cfg=norm_cfg,
        init_cfg=dict(type='PretrainedOrScratch', checkpoint=backbone_checkpoint)),
    neck=dict(
        type='SSDNeck',
        in_channels=(32, 96, 1280),
        out_channels=(32, 96, 1280, 512, 256, 256),
        level_strides=(2, 2, 2),
        level_paddings=(1, 1, 1),
        l2_norm_scale=None,
        use_depthwise=True,
        norm_cfg=norm_cfg,
        act_cfg=dict(type='ReLU6'),
        init_cfg=dict(type='TruncNormal', layer='Conv2d', std=0.03)),
    bbox_head=dict(
        type='FixedSSDHead',
        in_channels=(32, 96, 1280, 512, 256, 256),
        use_depthwise=True,
        norm_cfg=norm_cfg,
        act_cfg=dict(type='ReLU6'),
        init_cfg=dict(type='Normal', layer='Conv2d', std=0.001),
        anchor_generator=dict(
            type='SSDAnchorGenerator',
            scale_major=False,
            strides=[8, 16, 32, 64, 128, 256],
            ratios=[[2, 3], [2, 3], [2, 3], [2, 3], [2, 3], [2, 3]],
            min_sizes=[12, 24, 48, 96, 160, 224],
            max_sizes=[24, 48, 96, 160, 224, 320]),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[.0, .0, .0, .0],
            target_stds=[0.1, 0.1, 0.2, 0.2])),
    train_cfg=dict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=0.5,
            neg_iou_thr=0.5,
            min_pos_iou=0.,
            ignore_iof_thr=-1,
            gt_max_assign_all=False),
        sampler=dict(type='PseudoSampler'),
        smoothl1_beta=1.,
        allowed_border=-1,
        pos_weight=-1,
        neg_pos_ratio=3,
        debug=False),
    test_cfg=dict(
        nms_pre=1000,
        nms=dict(type='nms', iou_threshold=0.45),
        min_bbox_size=0,
        score_thr=0.02,
        max_per_img=200))
