"""``GLIGENGenerationHook``: the synthetic set exists and is complete before training reads it.

Why generation happens at dataset initialisation: mmengine's ``Runner.train()`` builds the train
dataloader (and, through the sampler's ``len(dataset)``, fully initialises the dataset) and fixes the
loop length and iteration-based schedulers BEFORE any ``before_run`` hook runs. So this hook, which the
Runner builds in its constructor, only declares that generation may run inside its Runner.

The contract with ``SyntheticDetDataset`` is one function, :func:`ensure_set_in_building_runner`: a
dataset with ``generation`` settings calls it while it loads its annotations; it generates what is
missing of the set (rank-sharded, resumable) when the Runner building that dataset has this hook, and
does nothing otherwise. The dataloader, loop length and schedulers are then built on the complete set.
"The Runner building the dataset" is the innermost Runner on the call stack (:func:`building_runner`):
mmengine builds datasets in the static ``Runner.build_dataloader`` and hands the Runner to nothing a
dataset sees. Without the hook in that Runner a missing set is an error, so an expensive GPU
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
    """The innermost mmengine Runner on the call stack: the one building the caller's dataset."""
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


def ensure_set_in_building_runner(generation: dict[str, Any]) -> SetSummary | None:
    """Generate what is missing of the set ``generation`` describes (its ``out_dir``) if the Runner
    building the caller's dataset has a :class:`GLIGENGenerationHook`; the set's summary then, else
    ``None`` and nothing is generated."""
    runner = building_runner()
    hooks = runner.hooks if runner is not None else []
    hook = next((h for h in hooks if isinstance(h, GLIGENGenerationHook)), None)
    return hook.ensure_set(generation) if hook is not None else None


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
