"""The hooks every experiment stage adds: early stopping that waits out the flat start, and the live
progress line (iteration / max, rate, ETA, loss, val mAP, patience left)."""
from __future__ import annotations

import io
import logging
import sys
from types import SimpleNamespace

import torch

from mmgen_det.engine.hooks.early_stopping_hook import DelayedEarlyStoppingHook
from mmgen_det.engine.hooks.progress_hook import TrainingProgressHook


def fake_runner(hooks=()):
    return SimpleNamespace(iter=0, max_iters=100, rank=0, hooks=list(hooks), logger=logging.getLogger('test'),
                           train_loop=SimpleNamespace(stop_training=False))


def validate(hook, runner, it: int, value: float) -> None:
    runner.iter = it
    hook.after_val_epoch(runner, {'coco/bbox_mAP': value})


def test_flat_start_does_not_stop_training():
    hook = DelayedEarlyStoppingHook(monitor='coco/bbox_mAP', rule='greater', patience=2, min_delta=0.001, begin=50)
    runner = fake_runner([hook])
    for it in (10, 20, 30, 40):  # four flat validations before `begin`: ignored
        validate(hook, runner, it, 0.0)
    assert not runner.train_loop.stop_training
    for it, value in ((50, 0.1), (60, 0.1), (70, 0.1)):  # from `begin` on, patience counts
        validate(hook, runner, it, value)
    assert runner.train_loop.stop_training


def test_without_delay_the_same_flat_start_stops():
    hook = DelayedEarlyStoppingHook(monitor='coco/bbox_mAP', rule='greater', patience=2, min_delta=0.001, begin=0)
    runner = fake_runner([hook])
    for it in (10, 20, 30):
        validate(hook, runner, it, 0.0)
    assert runner.train_loop.stop_training


def test_progress_line_shows_iteration_eta_loss_map_and_patience(monkeypatch):
    stream = io.StringIO()  # not a terminal: one line per update
    monkeypatch.setattr(sys, '__stderr__', stream)
    stopper = DelayedEarlyStoppingHook(monitor='coco/bbox_mAP', rule='greater', patience=3, begin=0)
    hook = TrainingProgressHook(label='real N50_s0', interval=0.0)
    runner = fake_runner([stopper, hook])
    hook.before_train(runner)
    hook.bar.interval = 0.0
    hook.after_train_iter(runner, 0, outputs={'loss': torch.tensor(2.5)})
    validate(stopper, runner, 1, 0.2)
    validate(stopper, runner, 2, 0.1)
    hook.after_val_epoch(runner, {'coco/bbox_mAP': 0.1})
    hook.after_train_iter(runner, 1, outputs={'loss': torch.tensor(1.25)})
    hook.after_train(runner)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith('  real N50_s0: 1/100 [') and 'ETA' in lines[0] and 'loss 2.500' in lines[0]
    assert 'loss 1.250, val mAP 0.100 (best 0.100, patience 2/3)' in lines[1]


def test_progress_line_survives_a_validation_without_metrics(monkeypatch):
    """An untrained model detects nothing and CocoMetric returns no metrics: say so, keep training."""
    stream = io.StringIO()
    monkeypatch.setattr(sys, '__stderr__', stream)
    hook = TrainingProgressHook(label='real', interval=0.0)
    runner = fake_runner([hook])
    hook.before_train(runner)
    hook.bar.interval = 0.0
    hook.after_val_epoch(runner, {})
    hook.after_train_iter(runner, 0, outputs={'loss': torch.tensor(3.0)})
    assert 'loss 3.000, val mAP n/a (no detections) (no best yet)' in stream.getvalue()
