# FCOS R50-FPN: the small-object FCOS of fcos_r18_fpn_small-objects.py (P3/stride 8 finest level,
# regress ranges shifted down to (-1,32),(32,64),(64,128),(128,inf) for 8-250 px fish) at the standard
# width: ResNet-50, 256-channel FPN, 4 stacked convs per branch, GN(32) as in mmdet's FCOS. The
# backbone is ImageNet-initialised with mmdet's usual FCOS freezing (stem + stage 1, BN eval).
#
# Backbone weights: `backbone_checkpoint`, a torchvision-format ResNet-50 state dict (see
# faster-rcnn_r50_fpn_frozen-imagenet.py); missing -> an error, unless init_cfg allow_scratch=True.
_base_ = './fcos_r18_fpn_small-objects.py'

backbone_checkpoint = 'checkpoints/resnet50_imagenet.pth'
model = dict(
    backbone=dict(depth=50, init_cfg=dict(checkpoint=backbone_checkpoint)),
    neck=dict(in_channels=[512, 1024, 2048], out_channels=256),
    bbox_head=dict(in_channels=256, stacked_convs=4, feat_channels=256,
                   norm_cfg=dict(num_groups=32)))
