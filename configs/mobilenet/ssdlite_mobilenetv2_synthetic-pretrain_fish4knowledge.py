# Synthetic pretraining: the detector trained on GLIGEN text-box images generated from the real
# training layouts (generated at the start of training by the GLIGENGenerationHook; one set shared by
# every detector), validated on the real val split. Other generators: change the generation line to
# copy-paste_fish4knowledge.py (CPU baseline) or gligen_text-image_fish4knowledge.py.
# Swap detectors by changing the model line.
_base_ = [
    '../_base_/models/ssdlite_mobilenetv2.py',
    '../_base_/generation/gligen_text-box_fish4knowledge.py',
    '../_base_/schedules/gpu_1x.py',
]
custom_imports = dict(imports=['mmgen_det'], allow_failed_imports=False)
model = dict(bbox_head=dict(num_classes={{_base_.num_classes}}))

train_dataloader = dict(batch_size=8, num_workers=4)
