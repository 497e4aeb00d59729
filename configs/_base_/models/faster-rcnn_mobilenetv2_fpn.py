# Faster R-CNN with a MobileNetV2 + FPN: the MobileNet detector closest to the reference (same
# two-stage detector, neck, anchors and frozen-ImageNet recipe as faster-rcnn_r50_fpn_frozen-imagenet.py,
# only the backbone swapped). MobileNetV2 outputs at strides 4/8/16/32 (out_indices 1, 2, 4, 7: 24, 32,
# 96 and 1280 channels) feed the FPN, so P2 (stride 4) stays the finest level. frozen_stages=7 freezes
# conv1 and all seven inverted-residual stages with BN in eval mode; only the last 1x1 conv (conv2,
# 320->1280) is left trainable, MobileNetV2 has no switch to freeze it.
#
# Backbone weights: `backbone_checkpoint`, a MobileNetV2 state dict with mmdet's key names, e.g. the
# file behind open-mmlab://mmdet/mobilenet_v2 (https://download.openmmlab.com/mmdetection/v2.0/
# third_party/mobilenet_v2_batch256_imagenet-ff34753d.pth). For an mmpretrain classifier checkpoint add
# prefix='backbone.' to init_cfg. Missing -> an error, unless init_cfg allow_scratch=True (from scratch,
# unfrozen, announced).
_base_ = './faster-rcnn_r50_fpn_frozen-imagenet.py'

backbone_checkpoint = 'checkpoints/mobilenetv2_imagenet.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='MobileNetV2',
        out_indices=(1, 2, 4, 7),
        frozen_stages=7,
        norm_eval=True,
        norm_cfg=dict(type='BN', requires_grad=True),
        init_cfg=dict(type='PretrainedOrScratch', checkpoint=backbone_checkpoint)),
    neck=dict(in_channels=[24, 32, 96, 1280]))
