"""``GLIGENGenerationHook``: the synthetic set exists and is complete before training reads it.

Why generation happens while the dataset loads: mmengine's ``Runner.train()`` (likewise ``val()`` and
``test()``, and ``FlexibleRunner``'s) first builds its loops; each loop builds its dataloader through
``Runner.build_dataloader``, which builds the dataset and calls its ``full_init``, and the loop length
and the iteration-based schedulers are fixed from that dataset. Only then does ``call_hook('before_run')``
run, and no hook method runs earlier: a hook cannot hand a set to training, the dataset must make it.

How the dataset learns it may (no call-stack inspection): a Runner's constructor creates its
``MessageHub``, named after its experiment, which becomes mmengine's *current* one (how mmengine lets
components without a Runner reference reach the running experiment), and then builds its hooks. This
hook, built there, enrols under that experiment's name; ``SyntheticDetDataset`` with ``generation``
settings asks :func:`current_generation_hook` for the hook enrolled under the current experiment and,
if there is one, has it generate what is missing of its set (:meth:`GLIGENGenerationHook.ensure_set`,
rank-sharded, resumable). The enrolment ends at the hook's ``before_run`` (the run's dataloaders are all
built by then) or when the hook is garbage-collected. So a Runner without the hook, a dataset built
outside any Runner, or one built after a run started never generates: a missing set is then an error,
and an expensive GPU generation never starts by surprise. (Between building a Runner with the hook and
starting its run, its experiment is the current one: a dataset built by hand then counts as its.)
The hook must be built by the Runner (``custom_hooks=[dict(type='GLIGENGenerationHook')]``); one built
beforehand and handed over as an object enrols under another experiment and generates nothing.
"""
from __future__ import annotations

import logging
import os
import warnings
import weakref

from mmengine.hooks import Hook
from mmengine.logging import MessageHub, print_log
from mmdet.registry import HOOKS

from ...generation.settings import GenerationSettings
from ...generation.synthetic_set import SetSummary, generate_synthetic_set, set_is_complete

#: the MessageHub mmengine makes when asked for the current one before any Runner exists
ROOT_MESSAGE_HUB = 'mmengine'
#: experiment name -> the GLIGENGenerationHook its Runner built, until that run starts
_enrolled: weakref.WeakValueDictionary[str, GLIGENGenerationHook] = weakref.WeakValueDictionary()


def current_experiment() -> str | None:
    """The name of mmengine's current experiment (the latest Runner's); ``None`` before any Runner."""
    name = MessageHub.get_current_instance().instance_name
    return None if name == ROOT_MESSAGE_HUB else name


def current_generation_hook() -> GLIGENGenerationHook | None:
    """The hook that may generate the sets of datasets built now: the one the current experiment's
    Runner built, while its run has not started (see the module docstring); else ``None``."""
    experiment = current_experiment()
    return _enrolled.get(experiment) if experiment is not None else None


def ensure_set_in_building_runner(generation: dict) -> SetSummary | None:
    """Deprecated: ``current_generation_hook().ensure_set(settings)``, as ``SyntheticDetDataset`` does."""
    warnings.warn('ensure_set_in_building_runner is deprecated: use current_generation_hook() and its '
                  'ensure_set(GenerationSettings)', FutureWarning, stacklevel=2)
    hook = current_generation_hook()
    return hook.ensure_set(GenerationSettings.from_dict(generation)) if hook is not None else None


@HOOKS.register_module()
class GLIGENGenerationHook(Hook):
    """Generate (or finish) the synthetic sets that this run's ``SyntheticDetDataset`` s describe.

    Args:
        progress: show a progress bar with rate and ETA while generating.
    """

    priority = 'VERY_HIGH'

    def __init__(self, progress: bool = True) -> None:
        self.progress = progress
        self.summaries: dict[str, SetSummary] = {}
        self.generations: dict[str, GenerationSettings] = {}
        self.experiment = current_experiment()
        if self.experiment is not None:
            _enrolled[self.experiment] = self

    def ensure_set(self, settings: GenerationSettings) -> SetSummary:
        """Generate what is missing of the set at ``settings.out_dir``; once per set and run."""
        key = os.path.realpath(settings.out_dir)
        if key not in self.summaries:
            self.generations[key] = settings
            self.summaries[key] = generate_synthetic_set(settings.to_dict(), progress=self.progress)
            print_log(f'GLIGENGenerationHook: {self.summaries[key].line()}', logger='current')
        return self.summaries[key]

    def before_run(self, runner) -> None:
        if _enrolled.get(self.experiment) is self:
            del _enrolled[self.experiment]  # every dataloader of this run is built
        if self.experiment != runner.message_hub.instance_name:
            print_log('GLIGENGenerationHook was not built by this Runner, so it could generate nothing: give it '
                      "as custom_hooks=[dict(type='GLIGENGenerationHook')]", logger='current', level=logging.WARNING)
        elif not self.generations:
            print_log('GLIGENGenerationHook: no SyntheticDetDataset with `generation` settings in this '
                      'run; nothing generated', logger='current')
        for settings in self.generations.values():
            if not set_is_complete(settings.to_dict()):
                raise RuntimeError(f'synthetic set {settings.out_dir} is incomplete after generation')
