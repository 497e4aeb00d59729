"""``GLIGENGenerationHook``: the synthetic set exists and is complete before training reads it.

Why generation happens at dataset initialisation: mmengine's ``Runner.train()`` builds the train
dataloader (and, through the sampler's ``len(dataset)``, fully initialises the dataset) and fixes the
loop length and iteration-based schedulers BEFORE any ``before_run`` hook runs. So this hook, which the
Runner builds in its constructor, only declares that generation may run inside this training run;
``SyntheticDetDataset`` asks it for the set (its ``generation`` settings, written to its
``data_root``) when it loads its annotations. The hook generates what is missing — rank-sharded,
resumable — and the dataloader, loop length and schedulers are then built on the complete set.
Without the hook a missing set is an error, so an expensive GPU generation never starts by surprise.
"""
from __future__ import annotations

import os
import weakref
from typing import Any, ClassVar

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmdet.registry import HOOKS

from ...generation.synthetic_set import SetSummary, generate_synthetic_set, set_is_complete


@HOOKS.register_module()
class GLIGENGenerationHook(Hook):
    """Generate (or finish) the synthetic sets that this run's ``SyntheticDetDataset`` s describe.

    Args:
        progress: show a progress bar with rate and ETA while generating.
    """

    priority = 'VERY_HIGH'
    _active: ClassVar[weakref.ref | None] = None

    def __init__(self, progress: bool = True) -> None:
        self.progress = progress
        self.summaries: dict[str, SetSummary] = {}
        self.generations: dict[str, dict[str, Any]] = {}
        GLIGENGenerationHook._active = weakref.ref(self)

    @classmethod
    def active(cls) -> 'GLIGENGenerationHook | None':
        """The hook of the runner being built, if its config has one."""
        return cls._active() if cls._active is not None else None

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
