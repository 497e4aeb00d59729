# Real fine-tuning: the synthetic-pretrained detector (its last checkpoint) trained on the real
# training split with the pretrain's schedule, so it is compared with the real-only baseline at equal
# compute. PretrainLoadCheckHook stops the run when the backbone or neck did not load from
# `load_from`, or when the pretrain's class order differs from the real dataset's.
_base_ = ['./faster-rcnn_mobilenetv2_fpn_synthetic-pretrain_fish4knowledge.py']

load_from = 'work_dirs/faster-rcnn_mobilenetv2_fpn_synthetic-pretrain_fish4knowledge/iter_12000.pth'
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type={{_base_.dataset_type}},
        data_root={{_base_.data_root}},
        metainfo={{_base_.metainfo}},
        ann_file='annotations/train.json',
        data_prefix=dict(img=''),
        filter_cfg=dict(filter_empty_gt=True, min_size=0),
        pipeline={{_base_.train_pipeline}},
        backend_args={{_base_.backend_args}}))
custom_hooks = [dict(type='PretrainLoadCheckHook', required_prefixes=('backbone.', 'neck.'))]
