# RetinaNet R50-FPN for small objects. The finest level stays P3 (stride 8; P2 would quadruple the
# ~100k anchors of a 720x404 image), and the anchors are halved: octave_base_scale=2 gives 16-25 px
# anchors at P3 up to 256-406 px at P7 (mmdet: 32-813 px), matching fish of 8-250 px at the 2x input
# scale of fish4knowledge_real.py. Fish below 16 px still get their best anchor as a positive
# (MaxIoUAssigner min_pos_iou=0).
#
# Backbone weights: `backbone_checkpoint`, a torchvision-format ResNet-50 state dict (see
# faster-rcnn_r50_fpn_frozen-imagenet.py); missing -> an error, unless init_cfg allow_scratch=True.
_base_ = 'mmdet::_base_/models/retinanet_r50_fpn.py'

backbone_checkpoint = 'checkpoints/resnet50_imagenet.pth'
model = dict(
    backbone=dict(init_cfg=dict(type='PretrainedOrScratch', checkpoint=backbone_checkpoint)),
    bbox_head=dict(anchor_generator=dict(octave_base_scale=2)))
