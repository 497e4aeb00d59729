# Real-only baseline: the detector trained on the real Fish4Knowledge training split alone.
# Everything but the model is shared (configs/_base_/family/real-only_fish4knowledge.py):
# swap detectors by changing the model line.
_base_ = [
    '../_base_/models/retinanet_r50_fpn.py',
    '../_base_/family/real-only_fish4knowledge.py',
]
model = dict(bbox_head=dict(num_classes={{_base_.num_classes}}))
