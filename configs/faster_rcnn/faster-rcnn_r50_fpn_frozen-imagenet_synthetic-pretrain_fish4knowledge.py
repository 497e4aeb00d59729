# Synthetic pretraining: the detector trained on the generated set, validated on the real val split.
# Everything but the model is shared (configs/_base_/family/synthetic-pretrain_fish4knowledge.py):
# swap detectors by changing the model line.
_base_ = [
    '../_base_/models/faster-rcnn_r50_fpn_frozen-imagenet.py',
    '../_base_/family/synthetic-pretrain_fish4knowledge.py',
]
model = dict(roi_head=dict(bbox_head=dict(num_classes={{_base_.num_classes}})))
