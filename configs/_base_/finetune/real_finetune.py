# Real fine-tuning, the one recipe every `*_real-finetune_*` config shares. Such a config is
#   _base_ = ['./<detector>_real-only_<data>.py', '<this file>']
#   load_from = '<the synthetic pretrain's work dir>/iter_<max_iters>.pth'
# so it trains on the real training split with the real-only config's dataset, model and schedule (the
# pretrain's schedule too: the family shares one), and compares with the real-only baseline at equal
# compute. PretrainLoadCheckHook stops the run when the backbone or neck did not load from `load_from`,
# or when the pretrain's class order differs from the real dataset's.
custom_hooks = [dict(type='PretrainLoadCheckHook', required_prefixes=('backbone.', 'neck.'))]
