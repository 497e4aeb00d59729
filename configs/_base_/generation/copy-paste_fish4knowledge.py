# Train on a copy-paste synthetic set made from the real Fish4Knowledge training images; validation
# and test stay on the real splits. Real object crops are pasted at jittered real layouts onto
# backgrounds made from the real frames with their labelled fish removed (per-camera median, else
# inpainting). No model, runs on CPU. The set is generated into `synthetic_root` by the
# GLIGENGenerationHook at the start of training (or beforehand with tools/generate.py CONFIG).
_base_ = ['../datasets/fish4knowledge_real.py']

real_data_root = 'data/fish4knowledge-coco/'
real_ann_file = real_data_root + 'annotations/train.json'
synthetic_root = 'work_dirs/synthetic/copy-paste_fish4knowledge/'
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='SyntheticDetDataset',
        data_root=synthetic_root,
        ann_file='annotations.json',
        data_prefix=dict(img=''),
        metainfo={{_base_.metainfo}},
        filter_cfg=dict(filter_empty_gt=True),
        pipeline={{_base_.train_pipeline}},
        # The one place the set is described (tools/generate.py --cfg-options generation.KEY=VALUE
        # overrides it). batch_size: layouts generated together; it does not change the images.
        generation=dict(
            num_images=9000,
            seed=0,
            batch_size=16,
            image_format='jpg',
            # Generated at the real frames' size (multiples of 8) so objects keep their real scale.
            layout=dict(ann_file=real_ann_file, strategy='jitter', width=360, height=200,
                        min_box_cells=0.5, min_boxes=1),
            generator=dict(type='copy_paste', ann_file=real_ann_file, img_root=real_data_root))))
custom_hooks = [dict(type='GLIGENGenerationHook')]
