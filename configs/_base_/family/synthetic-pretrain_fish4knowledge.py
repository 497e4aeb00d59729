# Everything a synthetic-pretrain config of the detector family shares: GLIGEN text-box images generated
# from the real training layouts (at the start of training by the GLIGENGenerationHook; one set shared
# by every detector), validation on the real val split, the full-size GPU schedule, batch 8. Other
# generators: change the generation line to copy-paste_fish4knowledge.py (CPU baseline) or
# gligen_text-image_fish4knowledge.py. A family config adds its model base and the head's class count.
_base_ = ['../generation/gligen_text-box_fish4knowledge.py', '../schedules/gpu_1x.py']
custom_imports = dict(imports=['mmgen_det'], allow_failed_imports=False)

train_dataloader = dict(batch_size=8, num_workers=4)
