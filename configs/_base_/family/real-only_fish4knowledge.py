# Everything a real-only config of the detector family (configs/{faster_rcnn,fcos,retinanet,mobilenet})
# shares: the real Fish4Knowledge training split alone, the full-size GPU schedule, batch 8. A family
# config adds its model base and the head's class count. Train a few-image arm with
#   --cfg-options train_dataloader.dataset.ann_file=annotations/train_100_seed0.json
_base_ = ['../datasets/fish4knowledge_real.py', '../schedules/gpu_1x.py']
custom_imports = dict(imports=['mmgen_det'], allow_failed_imports=False)

train_dataloader = dict(batch_size=8, num_workers=4)
