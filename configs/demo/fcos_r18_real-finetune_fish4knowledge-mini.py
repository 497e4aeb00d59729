# Fine-tune the synthetic-pretrained CPU demo detector on the real training sample: the real-only demo
# config plus the pretrain's last checkpoint (see configs/_base_/finetune/real_finetune.py).
_base_ = ['./fcos_r18_real-only_fish4knowledge-mini.py', '../_base_/finetune/real_finetune.py']

# the pretrain's last iteration
load_from = 'work_dirs/fcos_r18_synthetic-pretrain_fish4knowledge-mini/iter_600.pth'
