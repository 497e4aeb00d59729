# Real-only baseline: the detector trained on the real Fish4Knowledge training split alone.
# The detector family (configs/{faster_rcnn,fcos,retinanet,mobilenet}) shares everything but the model
# line below: swap detectors by changing it. Train a few-image arm with
#   --cfg-options train_dataloader.dataset.ann_file=annotations/train_100_seed0.json
_base_ = [
    '../_base_/models/faster-rcnn_mobilenetv2_fpn.py',
    '../_base_/datasets/fish4knowledge_real.py',
    '../_base_/schedules/gpu_1x.py',
]
custom_imports = dict(imports=['mmgen_det'], allow_failed_imports=False)
model = dict(roi_head=dict(bbox_head=dict(num_classes={{_base_.num_classes}})))

train_dataloader = dict(batch_size=8, num_workers=4)
