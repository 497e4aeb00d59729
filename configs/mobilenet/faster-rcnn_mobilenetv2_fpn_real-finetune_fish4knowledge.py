# Real fine-tuning of the synthetic-pretrained detector (its last checkpoint) on the real training
# split: see configs/_base_/finetune/real_finetune.py.
_base_ = ['./faster-rcnn_mobilenetv2_fpn_real-only_fish4knowledge.py', '../_base_/finetune/real_finetune.py']

load_from = 'work_dirs/faster-rcnn_mobilenetv2_fpn_synthetic-pretrain_fish4knowledge/iter_12000.pth'
