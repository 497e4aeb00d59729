"""The datasets inside an mmdet dataloader config, through dataset wrappers.

A wrapper (``RepeatDataset``, ``ClassBalancedDataset``, ``MultiImageMixDataset``, ``ConcatDataset``,
or a user's own) holds what it wraps under ``dataset`` or ``datasets``; every other dataset dict is a
leaf, the one that reads images. Classes, data paths and generation settings live on the leaves.
Plain data, no mmengine.
"""
from __future__ import annotations

from typing import Any, Mapping


def leaf_datasets(node: Any) -> list[Any]:
    """Every leaf dataset config under ``node`` (a dataset config, or a list of them), in order."""
    if isinstance(node, Mapping):
        inner = [leaf for key in ('dataset', 'datasets') for leaf in leaf_datasets(node.get(key))]
        return inner or [node]
    if isinstance(node, (list, tuple)):
        return [leaf for item in node for leaf in leaf_datasets(item)]
    return []


def inner_dataset(loader: Mapping[str, Any]) -> Any:
    """The one leaf dataset a dataloader reads; an error when it reads several (a ``ConcatDataset``),
    since there is then no single dataset whose paths or classes could be set."""
    found = leaf_datasets(loader.get('dataset'))
    if len(found) != 1:
        types = [leaf.get('type', '?') for leaf in found]
        raise ValueError(f'expected a dataloader reading one dataset (possibly inside RepeatDataset-like '
                         f'wrappers), found {len(found)}: {types}; give the detector config one training, '
                         'one val and one test dataset')
    return found[0]
