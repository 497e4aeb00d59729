# Faster R-CNN R50-FPN with a FROZEN ImageNet backbone: the reference setting (the whole ResNet-50 is
# frozen, BN in eval mode; only FPN, RPN and RoI head learn), so the synthetic images cannot pull the
# backbone's features towards their own domain.
#
# Small objects: P2 (stride 4) is the finest FPN level, as in mmdet. RPN anchors are scaled down from
# mmdet's 32-512 px (scales=[8]) to 12-192 px (scales=[3] at strides 4-64): at the 2x input scale of
# fish4knowledge_real.py the box sides (sqrt of area) span about 8 px (1st percentile) to 140 px (99th).
#
# Backbone weights: `backbone_checkpoint`, a torchvision-format ResNet-50 state dict, e.g. the file
# behind mmdet's torchvision://resnet50 (https://download.pytorch.org/models/resnet50-0676ba61.pth).
# When the file is missing, training stops with an error naming it: this is the reference setting.
# `--cfg-options model.backbone.init_cfg.allow_scratch=True` trains the backbone FROM SCRATCH and
# UNFROZEN instead (a frozen random backbone would learn nothing), announced by a banner and recorded
# as `scratch` (mmgen_det/engine/pretrained_init.py).
_base_ = 'mmdet::_base_/models/faster-rcnn_r50_fpn.py'

backbone_checkpoint = 'checkpoints/resnet50_imagenet.pth'
model = dict(
    backbone=dict(
        frozen_stages=4,
        norm_eval=True,
        init_cfg=dict(type='PretrainedOrScratch', checkpoint=backbone_checkpoint)),
    rpn_head=dict(anchor_generator=dict(scales=[3])))
