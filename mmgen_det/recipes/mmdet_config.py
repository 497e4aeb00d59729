"""Editing mmdet configs: the classes of every dataset and head from one list, through dataset wrappers
(:mod:`mmgen_det.utils.dataset_configs`).

Model bases hold no class count, so a derived config gets ``num_classes`` here and nowhere else; a
config written by hand is checked against the data's classes before anything trains on it.
"""
from __future__ import annotations

from typing import Any

from ..utils.dataset_configs import leaf_datasets


def heads_with_classes(model: dict) -> list[dict]:
    """Every ``bbox_head`` dict of a model config (single-stage heads and two-stage RoI heads): the
    heads whose ``num_classes`` is the dataset's class count. RPN heads are class-agnostic."""
    found = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == 'bbox_head' and isinstance(value, dict):
                    found.append(value)
                walk(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                walk(value)
    walk(model)
    return found


def set_classes(cfg, classes: list[str] | tuple[str, ...]) -> None:
    """Classes of every train/val/test dataset and ``num_classes`` of every head, from one list."""
    heads = heads_with_classes(cfg['model'])
    if not heads:
        raise ValueError('the model config has no bbox_head whose num_classes could be set')
    for head in heads:
        head['num_classes'] = len(classes)
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        for dataset in leaf_datasets(loader['dataset'] if loader else None):
            dataset['metainfo'] = dict(classes=tuple(classes))


class ClassMismatchError(ValueError):
    """A config's classes or head sizes differ from the data's classes."""


def check_classes(cfg, classes: list[str] | tuple[str, ...], where: str) -> None:
    """Raise :class:`ClassMismatchError` with both lists and the fix unless every train/val/test
    dataset of ``cfg`` names exactly ``classes`` (same order) and every head has that many outputs."""
    problems = []
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        for dataset in leaf_datasets(loader['dataset'] if loader else None):
            found = (dataset.get('metainfo') or {}).get('classes')
            if found is None:
                problems.append(f'{split}_dataloader: no metainfo classes (mmdet would assume COCO\'s 80 classes)')
            elif list(found) != list(classes):
                problems.append(f'{split}_dataloader classes ({len(found)}): {list(found)}')
    for head in heads_with_classes(cfg['model']):
        if head.get('num_classes') != len(classes):
            problems.append(f"{head.get('type', 'bbox_head')}.num_classes = {head.get('num_classes')}")
    if problems:
        raise ClassMismatchError(
            f'{where} does not match the data:\n  data classes ({len(classes)}): {list(classes)}\n  '
            + '\n  '.join(problems) + f'\nfix: set metainfo=dict(classes={tuple(classes)!r}) on every dataset '
            f'and num_classes={len(classes)} on every bbox_head, or let tools/init_experiment.py write the '
            'config from the data')
