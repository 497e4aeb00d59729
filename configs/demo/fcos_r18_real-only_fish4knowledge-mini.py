# CPU-sized real-only baseline on the shipped Fish4Knowledge sample (data/fish4knowledge-mini), used by
# `make demo` and the tests. Convert the sample first:
#   python tools/convert_dataset.py data/fish4knowledge-mini --format yolo --out data/fish4knowledge-mini-coco
# No ImageNet checkpoint is assumed on a CPU machine: the backbone trains from scratch (announced)
# unless checkpoints/resnet18_imagenet.pth exists.
_base_ = [
    '../_base_/models/fcos_r18_fpn_small-objects.py',
    '../_base_/datasets/fish4knowledge_real.py',
    '../_base_/schedules/cpu_demo.py',
]
custom_imports = dict(imports=['mmgen_det'], allow_failed_imports=False)
model = dict(backbone=dict(init_cfg=dict(allow_scratch=True)), bbox_head=dict(num_classes={{_base_.num_classes}}))

data_root = 'data/fish4knowledge-mini-coco/'
train_dataloader = dict(batch_size=4, dataset=dict(data_root=data_root))
val_dataloader = dict(num_workers=1, dataset=dict(data_root=data_root))
test_dataloader = dict(num_workers=1, dataset=dict(data_root=data_root))
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = dict(ann_file=data_root + 'annotations/test.json')
env_cfg = dict(dist_cfg=dict(backend='gloo'))
