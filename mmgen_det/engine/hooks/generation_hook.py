"""``GLIGENGenerationHook``: the synthetic set exists and is complete before training reads it.

Why generation happens at dataset initialisation: mmengine's ``Runner.train()`` builds the train
dataloader (and, through the sampler's ``len(dataset)``, fully initialises the dataset) and fixes the
loop length and iteration-based schedulers BEFORE any ``before_run`` hook runs. So this hook, which the
Runner builds in its constructor, only declares that generation may run inside its Runner;
``SyntheticDetDataset`` looks for it among the hooks of the Runner that is building the dataset
(:meth:`GLIGENGenerationHook.of_building_runner`) and asks it for the set (its ``generation``
settings, written to its ``data_root``) when it loads its annotations. The hook generates what is
missing — rank-sharded, resumable — and the dataloader, loop length and schedulers are then built on
the complete set. Without the hook in that Runner a missing set is an error, so an expensive GPU
generation never starts by surprise: not in a Runner without the hook, and not in a dataset built
outside any Runner, whatever other Runners the process holds.
"""
from __future__ import annotations

import inspect
import os
from typing import Any

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmdet.registry import HOOKS

from ...generation.synthetic_set import SetSummary, generate_synthetic_set, set_is_complete


def building_runner() -> Any | None:
    """The innermost mmengine Runner on the call stack: the one building the caller's dataset.

    mmengine builds datasets in the static ``Runner.build_dataloader``, called from the Runner's
    loop builders, and hands the Runner to nothing a dataset sees; the stack is what says which
    Runner it is.
    """
    from mmengine.runner import FlexibleRunner, Runner

    frame = inspect.currentframe()
    try:
        while frame is not None:
            owner = frame.f_locals.get('self')
            if isinstance(owner, (Runner, FlexibleRunner)):
                return owner
            frame = frame.f_back
        return None
    finally:
        del frame  # a frame referencing itself would keep every local of the stack alive


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
        self.generations: dict[str, dict[str, Any]] = {}

    @classmethod
    def of_building_runner(cls) -> 'GLIGENGenerationHook | None':
        """The hook of the Runner building the caller's dataset; ``None`` when that Runner has none,
        or no Runner is building it."""
        runner = building_runner()
        return next((hook for hook in runner.hooks if isinstance(hook, cls)), None) if runner is not None else None

    def ensure_set(self, generation: dict[str, Any]) -> SetSummary:
        """Generate what is missing of ``generation['out_dir']``; once per set and run."""
        key = os.path.realpath(generation['out_dir'])
        if key not in self.summaries:
            self.generations[key] = generation
            self.summaries[key] = generate_synthetic_set(generation, progress=self.progress)
            print_log(f'GLIGENGenerationHook: {self.summaries[key].line()}', logger='current')
        return self.summaries[key]

    def before_run(self, runner) -> None:
        if not self.generations:
            print_log('GLIGENGenerationHook: no SyntheticDetDataset with `generation` settings in this '
                      'run; nothing generated', logger='current')
        for generation in self.generations.values():
            if not set_is_complete(generation):
                raise RuntimeError(f"synthetic set {generation['out_dir']} is incomplete after generation")
