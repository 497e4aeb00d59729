# Synthetic pretraining: the detector trained on the generated set, validated on the real val split.
# Everything but the model is shared (configs/_base_/family/synthetic-pretrain_fish4knowledge.py):
# swap detectors by changing the model line.
_base_ = [
    '../_base_/models/ssdlite_mobilenetv2.py',
    '../_base_/family/synthetic-pretrain_fish4knowledge.py',
]
model = dict(bbox_head=dict(num_classes={{_base_.num_classes}}))
