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

``import mmgen_det`` registers right away in a process that has already loaded torch or mmdet (mmdet's
tools reach it through a config's ``custom_imports``, tests, scripts). Elsewhere, a command parsing its
arguments, it waits: :func:`register_when_mmdet_is_imported` applies the patches as the process first
imports mmengine (a user's script that goes on to ``Config.fromfile`` a config with ``mmgen_det::`` bases,
or to ``init_dist``, needs them before any mmdet), and as it imports mmdet adds the modules above to its
registries' ``locations``, which mmengine imports at their first lookup. Importing them there, not in the middle of whatever statement imports mmdet, keeps a
registering module that imports mmdet itself from being met half-initialised.
"""
from __future__ import annotations

import sys
from importlib import import_module
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Callable

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


#: the registries of ``mmdet.registry`` the modules above register into
MMDET_REGISTRIES = ('DATASETS', 'HOOKS', 'MODELS', 'TRANSFORMS', 'WEIGHT_INITIALIZERS')


def register_when_mmdet_is_imported() -> None:
    """Defer :func:`register_all_modules`: the patches until this process imports mmengine, the modules
    until it imports mmdet (see the module docstring)."""
    sys.meta_path.insert(0, _AfterImport('mmengine', _apply_patches))
    sys.meta_path.insert(0, _AfterImport('mmdet', _register_at_first_lookup))


def _apply_patches(_mmengine: ModuleType) -> None:
    from .compat import apply_all
    apply_all()


def _register_at_first_lookup(_mmdet: ModuleType) -> None:
    from mmdet import registry  # mmengine's registry only: safe while mmdet's importer is half-way

    _apply_patches(_mmdet)
    for name in MMDET_REGISTRIES:
        # Registry.import_from_location imports these at the first lookup; no public API adds locations
        getattr(registry, name)._locations.extend(REGISTERING_MODULES)


class _AfterImport(MetaPathFinder):
    """Calls ``callback(module)`` once the top-level module ``name`` has run (Python has no post-import
    hook): the spec the other finders find gets a loader whose ``exec_module`` calls it after. Only an
    import runs it: ``importlib.util.find_spec(name)`` (mmengine's ``mmdet::`` config paths) just finds."""

    def __init__(self, name: str, callback: Callable[[ModuleType], None]) -> None:
        self.name = name
        self.callback = callback

    def find_spec(self, fullname: str, path=None, target=None) -> ModuleSpec | None:
        if fullname != self.name:
            return None
        finders = (f for f in sys.meta_path if f is not self and hasattr(f, 'find_spec'))
        spec = next(filter(None, (f.find_spec(fullname, path, target) for f in finders)), None)
        if spec is not None and spec.loader is not None:
            run = spec.loader.exec_module

            def run_then_call(module: ModuleType) -> None:
                run(module)
                if self in sys.meta_path:  # once
                    sys.meta_path.remove(self)
                    self.callback(module)
            spec.loader.exec_module = run_then_call
        return spec
