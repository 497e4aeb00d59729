# Fine-tune the synthetic-pretrained CPU demo detector on the real training sample.
_base_ = ['./fcos_r18_synthetic-pretrain_fish4knowledge-mini.py']

load_from = 'work_dirs/fcos_r18_synthetic-pretrain_fish4knowledge-mini/iter_600.pth'  # the pretrain's last iteration
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type={{_base_.dataset_type}},
        data_root={{_base_.data_root}},
        metainfo={{_base_.metainfo}},
        ann_file='annotations/train.json',
        data_prefix=dict(img=''),
        filter_cfg=dict(filter_empty_gt=True, min_size=0),
        pipeline={{_base_.train_pipeline}}))
custom_hooks = []
