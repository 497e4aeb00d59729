# Pretrain the CPU demo detector on copy-paste images generated from the real training sample; the
# set is generated at the start of training by the GLIGENGenerationHook (resumable). The backbone
# trains from scratch (announced) unless checkpoints/resnet18_imagenet.pth exists.
_base_ = [
    '../_base_/models/fcos_r18_fpn_small-objects.py',
    '../_base_/generation/copy-paste_fish4knowledge.py',
    '../_base_/schedules/cpu_demo.py',
]
custom_imports = dict(imports=['mmgen_det'], allow_failed_imports=False)
model = dict(backbone=dict(init_cfg=dict(allow_scratch=True)), bbox_head=dict(num_classes={{_base_.num_classes}}))

data_root = 'data/fish4knowledge-mini-coco/'
real_ann_file = data_root + 'annotations/train.json'
synthetic_root = 'work_dirs/synthetic/copy-paste_fish4knowledge-mini/'
train_dataloader = dict(
    batch_size=4,
    dataset=dict(
        data_root=synthetic_root,
        generation=dict(num_images=400, layout=dict(ann_file=real_ann_file),
                        generator=dict(ann_file=real_ann_file, img_root=data_root))))
val_dataloader = dict(num_workers=1, dataset=dict(data_root=data_root))
test_dataloader = dict(num_workers=1, dataset=dict(data_root=data_root))
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = dict(ann_file=data_root + 'annotations/test.json')
env_cfg = dict(dist_cfg=dict(backend='gloo'))
