"""An experiment's ``cfg_options`` checked against the detector config they are merged into.

mmengine merges any key path into a config and adds what is missing, so ``model.backbone.deepth=18``
adds a key nothing reads and the run trains the default depth. Each path is walked through the config
as written; at the first key it lacks, that key must be one the dict's reader takes:

- at the top level: a key mmengine's ``Runner`` reads;
- in a dict with a ``type``: a parameter of the registered class's ``__init__`` (with its bases' when
  ``**kwargs`` pass on to them), or a key mmengine's builders take first (:data:`BUILDER_KEYS`); a
  class that takes any keyword, or a type no registry knows, takes any key;
- in a ``*_dataloader`` dict: a ``torch.utils.data.DataLoader`` parameter or one of mmengine's
  (:data:`LOADER_KEYS`);
- in another dict (``model.test_cfg``, ``default_hooks``: their readers take new keys): any key but a
  near-miss of one it has (``nms_pr`` beside ``nms_pre``).

Keys the runner sets for every stage (:data:`RUNNER_SETS`) are refused too: they would be replaced
without a word.
"""
from __future__ import annotations

import difflib
import inspect
from functools import lru_cache
from typing import Any, Iterator, Mapping

from ..utils.keys import MMENGINE_KEYS
from .config import ExperimentConfigError

#: config keys every stage sets itself (``stages.runnable_config``), and what sets them instead
RUNNER_SETS = {
    'train_cfg': 'schedules.<stage>.max_iters / val_interval, or schedule_scale',
    'param_scheduler': 'schedules.<stage>.lr_decay / lr_steps / warmup_iters',
    'default_hooks.checkpoint': 'every stage keeps its best checkpoint by val mAP and its last one',
    'randomness': 'seeds',
    'load_from': "a fine-tune loads its pretrain checkpoint; a backbone's start is its init_cfg",
    'resume': 'a stage that was stopped is run again whole',
    'work_dir': '--work-dir',
    'launcher': '--launcher',
}
#: keys mmengine's builders take from a dict before its class sees them (hooks, initializers, optimizers)
BUILDER_KEYS = frozenset({'priority', 'override', 'constructor', 'paramwise_cfg'})
#: keys of a dataloader dict that mmengine's ``Runner.build_dataloader`` takes itself
LOADER_KEYS = frozenset({'dataset', 'sampler', 'batch_sampler', 'collate_fn', 'worker_init_fn',
                         'num_batch_per_epoch', 'disable_subprocess_warning'})
KEYWORD_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
#: how close a new key in a dict without a reader to check must be to one it has to be a typo
NEAR_MISS = 0.8


def _paths(options: Mapping, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every key path ``options`` sets; a dict value merges into the config's, so its keys are paths too
    (not under ``_delete_=True``: it replaces the config's dict)."""
    for key, value in options.items():
        if key in MMENGINE_KEYS:
            continue
        path = prefix + tuple(str(key).split('.'))
        if isinstance(value, Mapping) and value and not value.get('_delete_'):
            yield from _paths(value, path)
        else:
            yield path


def _init_params(cls: Any) -> set[str] | None:
    """Keywords ``cls`` takes (its ``__init__``'s, and its bases' while ``**kwargs`` pass on); None when
    any keyword is taken."""
    if not inspect.isclass(cls):
        callables = [cls]
    else:
        callables = [c.__init__ for c in cls.__mro__ if c is not object and '__init__' in vars(c)]
    params: set[str] = set()
    for function in callables:
        try:
            signature = inspect.signature(function).parameters.values()
        except (TypeError, ValueError):  # a builtin without a signature: nothing to check against
            return None
        params |= {p.name for p in signature if p.kind in KEYWORD_KINDS} - {'self'}
        if not any(p.kind == p.VAR_KEYWORD for p in signature):
            return params
    return None if callables else params


def _registered(type_: Any) -> list[Any]:
    """What a ``type`` names in mmdet's registries (and mmengine's, their parents)."""
    if not isinstance(type_, str):
        return [type_]
    import mmdet.registry
    from mmengine.registry import Registry
    registries = [r for r in vars(mmdet.registry).values() if isinstance(r, Registry)]
    return [found for found in (r.get(type_) for r in registries) if found is not None]


@lru_cache(maxsize=None)
def _readers_keys() -> tuple[frozenset[str], frozenset[str]]:
    """The top-level keys mmengine's ``Runner`` reads, and a ``torch`` ``DataLoader``'s keys."""
    from mmengine.runner import Runner
    from torch.utils.data import DataLoader
    return frozenset(_init_params(Runner) or ()), frozenset(_init_params(DataLoader) or ()) | LOADER_KEYS


def _unknown(key: str, parent: tuple[str, ...], base: dict, merged: dict) -> tuple[str, list[str]] | None:
    """Why the reader of the dict at ``parent`` (``base`` as written, ``merged`` with the options) takes no
    ``key``, and the keys it takes; None when it takes it."""
    runner_keys, loader_keys = _readers_keys()
    if not parent:
        return None if key in runner_keys else ("is not a key of the config or one mmengine's Runner reads",
                                                sorted(set(base) | runner_keys))
    where = '.'.join(parent)
    if 'type' in merged:
        readers = _registered(merged['type'])
        takes = [_init_params(reader) for reader in readers]
        if not readers or None in takes or key in BUILDER_KEYS or any(key in t for t in takes):
            return None
        names = ', '.join(getattr(r, '__name__', str(r)) for r in readers)
        return f'is not a parameter of {where} ({names})', sorted(set().union(*takes))
    if len(parent) == 1 and parent[0].endswith('_dataloader'):
        known = sorted(loader_keys)
        return None if key in loader_keys else (f'is not a key of {where} (a DataLoader)', known)
    if difflib.get_close_matches(key, [str(k) for k in base], n=1, cutoff=NEAR_MISS):
        return f'is not a key of {where}, which has one spelt nearly so', sorted(str(k) for k in base)
    return None


def check_cfg_options(options: Mapping[str, Any], base: dict, merged: dict, config: str) -> None:
    """Refuse a key of ``options`` (an experiment's ``cfg_options``) that the runner sets itself or that
    nothing reading the config ``config`` (``base`` as written, ``merged`` with the options) would read;
    see the module docstring."""
    for path in _paths(options):
        joined = '.'.join(path)
        overridden = next((k for k in RUNNER_SETS if joined == k or joined.startswith(k + '.')), None)
        if overridden:
            raise ExperimentConfigError(f'cfg_options: {joined!r}: every stage sets {overridden} itself, so '
                                        'the option would be replaced. Fix: remove it; set '
                                        f'{RUNNER_SETS[overridden]}')
        written, node = base, merged
        for depth, key in enumerate(path):
            if isinstance(written, list) and key.isdigit() and int(key) < len(written):
                written, node = written[int(key)], node[int(key)]
                continue
            if not isinstance(written, dict):
                break  # the option replaces a value that is not a dict: nothing below it to check
            if key in written:
                written, node = written[key], node[key]
                continue
            refusal = _unknown(key, path[:depth], written, node)
            if refusal:
                why, known = refusal
                close = difflib.get_close_matches(key, known, n=1)
                hint = f' (did you mean {close[0]!r}?)' if close else ''
                shown = ', '.join(known[:30]) + (', ...' if len(known) > 30 else '')
                raise ExperimentConfigError(
                    f'cfg_options: {joined!r}: {key!r} {why}{hint}; mmengine would add it and nothing would '
                    f'read it ({config}). Fix: correct the key; known here: {shown}')
            break
