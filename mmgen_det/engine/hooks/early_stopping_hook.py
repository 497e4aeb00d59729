"""Early stopping that does not fire during a from-scratch detector's flat start.

mmengine's ``EarlyStoppingHook`` counts patience from the first validation. A detector trained from
scratch often scores mAP 0.000 for its first few validations, then climbs: counted from the start,
patience runs out before learning shows. This hook ignores validations before iteration ``begin``.
"""
from __future__ import annotations

from mmengine.hooks import EarlyStoppingHook
from mmdet.registry import HOOKS


@HOOKS.register_module()
class DelayedEarlyStoppingHook(EarlyStoppingHook):
    """mmengine's ``EarlyStoppingHook`` (same arguments), counting only validations at iteration
    ``begin`` or later."""

    def __init__(self, *args, begin: int = 0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.begin = begin

    def after_val_epoch(self, runner, metrics=None) -> None:
        if runner.iter < self.begin:
            return
        super().after_val_epoch(runner, metrics)
