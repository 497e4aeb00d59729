# Fine-tune the synthetic-pretrained CPU demo detector on the real training sample. PretrainLoadCheckHook
# stops the run when the backbone or neck did not load from `load_from`, or when the pretrain's class
# order differs from the real dataset's.
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
custom_hooks = [dict(type='PretrainLoadCheckHook', required_prefixes=('backbone.', 'neck.'))]
