"""``PretrainLoadCheckHook``: a fine-tune fails unless its pretrain checkpoint loaded where it must.

Why: mmengine's ``load_from`` loads non-strictly. Missing keys, unexpected keys and shape mismatches
are warnings in a long log, so a fine-tune whose backbone silently kept its initial weights (renamed
modules, a checkpoint of another detector, a classifier file) looks like a normal run with worse
numbers. This hook compares the checkpoint with the model, reports every difference, and raises,
naming the checkpoint, when any weight under ``required_prefixes`` did not load. It also checks that
the pretrain's class order (checkpoint ``meta.dataset_meta``) is the fine-tune dataset's, so label k
means the same species in both stages, and records the backbone initialisation in the log and in
the message hub (``backbone_init``, ``pretrain_checkpoint``; saved with every checkpoint).

Hook point: in mmengine 0.10.7 ``Runner.train()`` calls ``before_run``, then ``_init_model_weights``,
then ``load_or_resume`` (which loads ``load_from``), then ``train_loop.run()``, whose first call is
``before_train``. So ``before_train`` is the first point where the loaded weights are in the model and
no step has changed them yet: a loaded tensor must equal the checkpoint's exactly, which also catches
weights overwritten after loading.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import CheckpointLoader
from mmdet.registry import HOOKS
from torch import nn

from ..pretrained_init import backbone_init

SHOW = 10  # keys listed per category in messages


@dataclass
class LoadReport:
    """How a checkpoint's state_dict matches a model's, after mmengine's ``load_from``."""

    checkpoint: str
    num_model_keys: int
    missing: list[str] = field(default_factory=list)  # in the model, not in the checkpoint
    unexpected: list[str] = field(default_factory=list)  # in the checkpoint, not in the model
    shape_mismatch: list[str] = field(default_factory=list)  # both, different shapes (not loaded)
    value_mismatch: list[str] = field(default_factory=list)  # same shape, model value differs

    def not_loaded(self, prefixes: Sequence[str] = ('',)) -> list[str]:
        """Model keys under ``prefixes`` whose checkpoint value is not in the model."""
        keys = self.missing + self.shape_mismatch + self.value_mismatch
        return [k for k in keys if k.startswith(tuple(prefixes))]

    def summary(self) -> str:
        loaded = self.num_model_keys - len(self.not_loaded())
        parts = [f'{loaded}/{self.num_model_keys} model tensors loaded from {self.checkpoint}']
        for name in ('missing', 'unexpected', 'shape_mismatch', 'value_mismatch'):
            keys = getattr(self, name)
            if keys:
                more = f', ... ({len(keys) - SHOW} more)' if len(keys) > SHOW else ''
                parts.append(f'{name} ({len(keys)}): {", ".join(keys[:SHOW])}{more}')
        return '; '.join(parts)


def checkpoint_state_dict(checkpoint: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The state_dict inside a checkpoint, with DDP's ``module.`` prefix removed as mmengine does."""
    state = checkpoint.get('state_dict', checkpoint)
    return {re.sub(r'^module\.', '', k): v for k, v in state.items() if isinstance(v, torch.Tensor)}


def compare_state_dicts(model: nn.Module, state: dict[str, torch.Tensor], checkpoint: str) -> LoadReport:
    """Compare ``model``'s current tensors with ``state`` key by key, shape and value."""
    own = model.state_dict()
    report = LoadReport(checkpoint=checkpoint, num_model_keys=len(own))
    report.unexpected = [k for k in state if k not in own]
    for key, value in own.items():
        if key not in state:
            report.missing.append(key)
        elif state[key].shape != value.shape:
            report.shape_mismatch.append(
                f'{key} (checkpoint {tuple(state[key].shape)}, model {tuple(value.shape)})')
        elif not torch.equal(value.detach().cpu(), state[key].to(value.dtype)):
            report.value_mismatch.append(key)
    return report


@HOOKS.register_module()
class PretrainLoadCheckHook(Hook):
    """Check, before the first fine-tuning step, that ``load_from`` loaded the required weights.

    Args:
        required_prefixes: state_dict key prefixes that must load completely (the pretrained
            feature extractor); other differences, e.g. a re-initialised head, are only reported.
    """

    priority = 'VERY_HIGH'  # before any other before_train hook can touch the weights

    def __init__(self, required_prefixes: Sequence[str] = ('backbone.', 'neck.')) -> None:
        if not required_prefixes:
            raise ValueError('PretrainLoadCheckHook: give at least one required prefix')
        self.required_prefixes = tuple(required_prefixes)

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        # What load_or_resume acted on (mmengine 0.10.7 keeps these on the runner only).
        load_from, resume = runner._load_from, runner._resume
        if resume:
            print_log('PretrainLoadCheckHook: run resumed; the pretrain checkpoint was checked when '
                      'this fine-tune started', logger='current')
            return
        if load_from is None:
            raise RuntimeError('PretrainLoadCheckHook: this fine-tune config has no `load_from`; set it '
                               'to the synthetic-pretrain checkpoint (or remove the hook to train '
                               'without one)')
        for prefix in self.required_prefixes:
            if not any(k.startswith(prefix) for k in model.state_dict()):
                raise ValueError(f'PretrainLoadCheckHook: the model has no weights under required '
                                 f'prefix {prefix!r}')

        checkpoint = CheckpointLoader.load_checkpoint(load_from, map_location='cpu')
        report = compare_state_dicts(model, checkpoint_state_dict(checkpoint), load_from)
        self._record_backbone_init(runner, model, checkpoint, load_from)
        self._check_classes(runner, checkpoint, load_from)

        not_loaded = report.not_loaded(self.required_prefixes)
        if not_loaded:
            raise RuntimeError(
                f'PretrainLoadCheckHook: {len(not_loaded)} weights under {list(self.required_prefixes)} '
                f'were NOT loaded from the pretrain checkpoint {load_from} (e.g. {not_loaded[:SHOW]}). '
                'Fine-tuning would start them from their initialisation. Is it a checkpoint of this '
                f'config\'s detector? Report: {report.summary()}')
        level = logging.WARNING if report.not_loaded() or report.unexpected else logging.INFO
        print_log(f'PretrainLoadCheckHook: {report.summary()}', logger='current', level=level)

    @staticmethod
    def _record_backbone_init(runner, model: nn.Module, checkpoint: dict, load_from: str) -> None:
        """Log and store how the backbone started: its ImageNet init, then the pretrain weights.

        The pretrain's own record wins if it has one; otherwise this run's backbone initialisation
        (same config and files as the pretrain) stands for it.
        """
        pretrain_info = checkpoint.get('message_hub', {}).get('runtime_info', {})
        init = pretrain_info.get('backbone_init') or backbone_init(model)
        runner.message_hub.update_info('backbone_init', init, resumed=True)
        runner.message_hub.update_info('pretrain_checkpoint', load_from, resumed=True)
        print_log(f'PretrainLoadCheckHook: backbone initialised from {init!r} before synthetic '
                  f'pretraining; the whole detector then loaded from {load_from} (a "FROM SCRATCH" '
                  'warning above refers to the ImageNet stage only)', logger='current')

    @staticmethod
    def _check_classes(runner, checkpoint: dict, load_from: str) -> None:
        """Label k must mean the same class in pretraining and fine-tuning."""
        pretrain_meta = checkpoint.get('meta', {}).get('dataset_meta') or {}
        pretrain_classes = pretrain_meta.get('classes')
        classes = runner.train_dataloader.dataset.metainfo.get('classes')
        if pretrain_classes is None:
            print_log(f'PretrainLoadCheckHook: {load_from} records no dataset classes; class order '
                      'not checked', logger='current', level=logging.WARNING)
        elif list(pretrain_classes) != list(classes):
            raise ValueError(f'PretrainLoadCheckHook: the pretrain checkpoint {load_from} was trained '
                             f'with classes {list(pretrain_classes)}, this dataset has {list(classes)}: '
                             'labels would change meaning; use the same class list and order')
