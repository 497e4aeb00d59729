"""``GLIGENGenerationHook``: the synthetic set exists and is complete before training reads it.

Why generation happens at dataset initialisation: mmengine's ``Runner.train()`` builds the train
dataloader (and, through the sampler's ``len(dataset)``, fully initialises the dataset) and fixes the
loop length and iteration-based schedulers BEFORE any ``before_run`` hook runs. So this hook, which the
Runner builds in its constructor, only registers its generation config; ``SyntheticDetDataset`` asks
for the set when it loads its annotations, the hook generates what is missing (rank-sharded,
resumable), and the dataloader, loop length and schedulers are then built on the complete set.
``before_run`` re-checks completeness and logs what was done.
"""
from __future__ import annotations

import os
from typing import Any, ClassVar

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmdet.registry import HOOKS

from ...generation.synthetic_set import SetSummary, check_generation_cfg, generate_synthetic_set, set_is_complete


def _key(path: str | os.PathLike) -> str:
    return os.path.realpath(os.fspath(path))


@HOOKS.register_module()
class GLIGENGenerationHook(Hook):
    """Generate (or finish) the synthetic set described by ``generation`` before training uses it.

    Args:
        generation: the generation config (see ``mmgen_det.generation.synthetic_set``); its
            ``out_dir`` must be the ``data_root`` of the ``SyntheticDetDataset`` it feeds.
        progress: show a progress bar with rate and ETA while generating.
    """

    priority = 'VERY_HIGH'
    _by_out_dir: ClassVar[dict[str, 'GLIGENGenerationHook']] = {}

    def __init__(self, generation: dict[str, Any], progress: bool = True) -> None:
        self.generation = dict(generation)
        check_generation_cfg(self.generation)
        self.progress = progress
        self.summary: SetSummary | None = None
        GLIGENGenerationHook._by_out_dir[_key(self.generation['out_dir'])] = self

    @classmethod
    def ensure_set_for(cls, data_root: str | os.PathLike) -> SetSummary | None:
        """Called by ``SyntheticDetDataset``: generate the set at ``data_root`` if a hook owns it."""
        hook = cls._by_out_dir.get(_key(data_root))
        return hook.ensure_complete() if hook is not None else None

    def ensure_complete(self) -> SetSummary:
        if self.summary is None:
            self.summary = generate_synthetic_set(self.generation, progress=self.progress)
            print_log(f'GLIGENGenerationHook: {self.summary.line()}', logger='current')
        return self.summary

    def before_run(self, runner) -> None:
        self.ensure_complete()
        if not set_is_complete(self.generation):
            raise RuntimeError(f"synthetic set {self.generation['out_dir']} is incomplete after generation")
