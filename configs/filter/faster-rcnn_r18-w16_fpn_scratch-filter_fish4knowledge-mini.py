# The smallest PR-filter detector that still finds fish: the mini filter config with a quarter-width
# ResNet-18 (16 base channels) trained from scratch, 16x cheaper per convolution. For CPU-only machines
# without an ImageNet checkpoint; used by the tests and benchmarks/filter_auc.py.
_base_ = ['./faster-rcnn_r18_fpn_filter_fish4knowledge-mini.py']

channels = 32
model = dict(
    backbone=dict(base_channels=16, frozen_stages=-1, norm_eval=False, init_cfg=None),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=channels),
    rpn_head=dict(in_channels=channels, feat_channels=channels),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=channels),
        bbox_head=dict(in_channels=channels, fc_out_channels=128)))
optim_wrapper = dict(optimizer=dict(lr=0.02))
