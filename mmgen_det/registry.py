"""Which of mmgen_det's modules register into mmdet's registries (scope ``mmdet``), in one screen.

We register into mmdet's own registries rather than a scope of our own, so configs with
``default_scope='mmdet'`` run unchanged under mmdet's stock ``tools/train.py`` and ``tools/test.py``.
Registering also applies the package's patches to mmengine and torch, all listed, with their upstream
issues, in ``mmgen_det.compat.PATCHES``.

| registry (mmdet.registry)  | names                     | module                                   |
|----------------------------|---------------------------|------------------------------------------|
| DATASETS                   | SyntheticDetDataset       | mmgen_det.datasets.synthetic_dataset     |
| HOOKS                      | GLIGENGenerationHook      | mmgen_det.engine.hooks.generation_hook   |
| HOOKS                      | PretrainLoadCheckHook     | mmgen_det.engine.hooks.load_check_hook   |
| HOOKS                      | DelayedEarlyStoppingHook  | mmgen_det.engine.hooks.early_stopping_hook |
| HOOKS                      | TrainingProgressHook      | mmgen_det.engine.hooks.progress_hook     |
| MODELS                     | EfficientNetLite          | mmgen_det.models.backbones.efficientnet_lite |
| MODELS                     | FixedSSDHead              | mmgen_det.compat.ssd_predict             |
| TRANSFORMS                 | PRFilter                  | mmgen_det.filters.pr_filter              |
| WEIGHT_INITIALIZERS        | PretrainedOrScratch       | mmgen_det.engine.pretrained_init         |

and mmengine's ``CheckpointLoader`` reads ``packaged://NAME`` (ImageNet weights installed by pip) through
``mmgen_det.models.packaged_weights``.
"""
from importlib import import_module

REGISTERING_MODULES = (
    'mmgen_det.compat.ssd_predict',
    'mmgen_det.datasets.synthetic_dataset',
    'mmgen_det.engine.hooks.early_stopping_hook',
    'mmgen_det.engine.hooks.generation_hook',
    'mmgen_det.engine.hooks.load_check_hook',
    'mmgen_det.engine.hooks.progress_hook',
    'mmgen_det.engine.pretrained_init',
    'mmgen_det.filters.pr_filter',
    'mmgen_det.models.backbones.efficientnet_lite',
    'mmgen_det.models.packaged_weights',
)


def register_all_modules() -> None:
    """Apply the compatibility patches (once), then import every registering module."""
    from .compat import apply_all
    apply_all()
    for name in REGISTERING_MODULES:
        import_module(name)
