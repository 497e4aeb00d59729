"""A one-line live view of a training: iteration / max, rate, ETA, last loss, val mAP, patience left.

``tools/run_experiment.py`` sends each stage's mmengine log to the stage's ``console.log`` and adds
this hook, so the screen shows one updating line per training instead of minutes of silence. It
writes to the process's real stderr (``sys.__stderr__``), which the redirection leaves alone; on a
non-terminal (a log file, CI) it prints a plain line every ``interval`` seconds.
"""
from __future__ import annotations

import sys

from mmengine.hooks import EarlyStoppingHook, Hook
from mmdet.registry import HOOKS

from ...utils.progress import ProgressBar

MONITOR = 'coco/bbox_mAP'


@HOOKS.register_module()
class TrainingProgressHook(Hook):
    """Show ``label: iter/max [rate it/s, ETA] loss L, val mAP M (best B, patience P/Q)`` on rank 0."""
    priority = 'VERY_LOW'

    def __init__(self, label: str = 'train', interval: float = 2.0) -> None:
        self.label = label
        self.interval = interval
        self.bar: ProgressBar | None = None
        self.last_val: str | None = None  # what the last validation showed
        self.best_map: float | None = None

    def before_train(self, runner) -> None:
        if runner.rank != 0:
            return
        stream = sys.__stderr__
        terminal = stream.isatty()
        self.bar = ProgressBar(runner.max_iters, desc=f'  {self.label}', initial=runner.iter, unit='it',
                               interval=self.interval if terminal else max(self.interval, 30.0), stream=stream,
                               lines=not terminal)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.bar is None:
            return
        parts = []
        loss = (outputs or {}).get('loss')
        if loss is not None:
            parts.append(f'loss {float(loss):.3f}')
        if self.last_val is not None:
            best = f'best {self.best_map:.3f}' if self.best_map is not None else 'no best yet'
            parts.append(f'{self.last_val} ({best}{self._patience(runner)})')
        self.bar.suffix = ', '.join(parts)
        self.bar.update()

    def after_val_epoch(self, runner, metrics=None) -> None:
        if self.bar is None:
            return
        if metrics and MONITOR in metrics:
            value = float(metrics[MONITOR])
            self.best_map = value if self.best_map is None else max(self.best_map, value)
            self.last_val = f'val mAP {value:.3f}'
        else:  # CocoMetric computes nothing for a model without a single detection
            self.last_val = 'val mAP n/a (no detections)'

    @staticmethod
    def _patience(runner) -> str:
        stopper = next((h for h in runner.hooks if isinstance(h, EarlyStoppingHook)), None)
        if stopper is None:
            return ''
        return f', patience {stopper.patience - stopper.wait_count}/{stopper.patience}'

    def after_train(self, runner) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
