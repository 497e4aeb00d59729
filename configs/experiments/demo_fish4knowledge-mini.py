# A hand-written experiment config on the shipped sample (data/fish4knowledge-mini: 200 train / 50 val /
# 50 test frames): real-only vs copy-paste-pretrained + real-finetuned FCOS-R18 with the compute-matched
# control, every key spelled out (see mmgen_det/experiments/config.py). The tests derive their tiny
# sweeps from it. `make demo` runs the same data through `tools/run_experiment.py --data`, whose
# configs are derived from the data (mmgen_det/recipes/).
#   python tools/run_experiment.py configs/experiments/demo_fish4knowledge-mini.py
#
# The frames (360x202) are upscaled 2x to 720x404, because most fish are under 16 px and would
# otherwise be smaller than one stride-8 cell of FCOS's finest level (P3); training sees random crops
# of the upscaled frame. Checkpoint choice uses a fixed 20-image val subset. The backbone trains from
# scratch unless checkpoints/resnet18_imagenet.pth exists.
name = 'demo_fish4knowledge-mini'
data = dict(source='data/fish4knowledge-mini', format='yolo', val_images=20, test_images=None,
            num_images=dict(train=200, val=50, test=50))
detector = 'configs/demo/fcos_r18_real-only_fish4knowledge-mini.py'
num_real = [50]
seeds = [0]
arms = ['real-only', 'synthetic-pretrain', 'compute-matched']
generators = {
    'copy-paste': dict(config='configs/_base_/generation/copy-paste_fish4knowledge.py', images_per_real=8),
}
filters = {'none': None}
schedules = dict(
    default=dict(max_iters=75, val_interval=25, patience=2, min_delta=0.001, warmup_iters=15, lr_steps=(0.75,)),
    finetune=dict(max_iters=50))
_train_pipeline = [  # a helper variable: the leading '_' keeps it out of the checked keys
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(720, 404), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(360, 202), allow_negative_crop=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
# 2 cores: one data worker, no persistent workers (several Runners live in one process).
cfg_options = {
    'train_dataloader.dataset.pipeline': _train_pipeline,
    'train_dataloader.num_workers': 1, 'train_dataloader.persistent_workers': False,
    'val_dataloader.num_workers': 0, 'val_dataloader.persistent_workers': False,
    'test_dataloader.num_workers': 0, 'test_dataloader.persistent_workers': False,
    'default_hooks.logger.interval': 10,
}
# Seconds on 2 idle CPU cores (training crops, batch 4); only --dry-run uses these.
estimate = dict(device='CPU', seconds_per_iter=2.0, seconds_per_eval_image=0.4, seconds_per_scored_image=0.4,
                seconds_per_generated_image={'copy-paste': 0.02, 'gligen-text': 30.0, 'gligen-image': 30.0})
