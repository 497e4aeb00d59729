"""Seeded, nested subsets of a COCO detection dataset: the "few real images" of a run.

In:  a COCO dict, a seed and a size N.
Out: a COCO dict with the first N images of one seeded ordering (:func:`subset_order`), every
     category kept (even those left without boxes) and the ``file_name`` s unchanged, so the same
     ``data_root`` serves the subset and the full file.

The ordering, and why:

1. ``numpy.random.default_rng(seed)`` permutes the sorted image ids: the same on every run and
   machine, whatever the order of ``images`` in the file.
2. Greedy class cover: walking that permutation, repeatedly take the image that adds the most
   classes not yet covered (the earliest on ties) until every class that has a box is covered. This
   takes at most K images, so any N >= K (number of classes with boxes) contains every class.
3. The other images with boxes, in permutation order.
4. Images without boxes last, in permutation order: with a few real images every slot should carry
   labels, so background images enter only once N exceeds the number of labelled images.

Subset N is the first N images, so for one seed the subsets are nested (10 in 50 in 100): growing
the real set only adds images, which keeps runs at different N comparable.
"""
from __future__ import annotations

from typing import Any, Hashable, Iterable, Mapping

import numpy as np


def subset_order(coco: dict[str, Any], seed: int) -> list[int]:
    """All image ids, in the order subsets take them for ``seed`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    permuted = [int(i) for i in rng.permutation(sorted(img['id'] for img in coco['images']))]
    classes: dict[int, set[int]] = {image_id: set() for image_id in permuted}
    for ann in coco['annotations']:
        classes[ann['image_id']].add(ann['category_id'])

    cover: list[int] = []
    uncovered = set().union(*classes.values())
    while uncovered:
        best = max(permuted, key=lambda i: len(classes[i] & uncovered))  # first max wins ties
        cover.append(best)
        uncovered -= classes[best]
    chosen = set(cover)
    labelled = [i for i in permuted if classes[i] and i not in chosen]
    background = [i for i in permuted if not classes[i]]
    return cover + labelled + background


def make_subset(coco: dict[str, Any], num_images: int, seed: int, *,
                source: str | None = None) -> dict[str, Any]:
    """The first ``num_images`` of :func:`subset_order` as a COCO dict.

    Images and annotations keep their ids, fields and file order; ``info`` records
    ``{'subset_of': source, 'num_images': N, 'seed': seed}``.
    """
    total = len(coco['images'])
    if not isinstance(num_images, int) or num_images <= 0:
        raise ValueError(f'num_images must be a positive integer, got {num_images!r}')
    if num_images > total:
        raise ValueError(f'num_images={num_images} but the dataset has only {total} images; '
                         f'choose at most {total}')
    keep = set(subset_order(coco, seed)[:num_images])
    return {**coco,
            'info': {'subset_of': source, 'num_images': num_images, 'seed': seed},
            'images': [img for img in coco['images'] if img['id'] in keep],
            'annotations': [ann for ann in coco['annotations'] if ann['image_id'] in keep],
            'categories': coco['categories']}


def _units(image_ids: Iterable[int], groups: Mapping[int, Hashable]) -> dict[int, list[int]]:
    """Images by group, each group under its smallest id; an image ``groups`` leaves out is alone."""
    first: dict[Hashable, int] = {}
    units: dict[int, list[int]] = {}
    for image_id in sorted(image_ids):
        key = ('group', groups[image_id]) if image_id in groups else ('image', image_id)
        units.setdefault(first.setdefault(key, image_id), []).append(image_id)
    return units


def split_off(coco: dict[str, Any], fractions: dict[str, float], seed: int, *,
              source: str | None = None,
              groups: Mapping[int, Hashable] | None = None) -> dict[str, dict[str, Any]]:
    """Split held-out sets (e.g. ``{'val': 0.15, 'test': 0.15}``) off a dataset that has none,
    stratified by class; the rest is ``'train'``.

    ``groups`` maps image ids to a group (their content hash): the images of a group go to one part
    together, since a held-out image with the same bytes as a training image measures nothing. Each
    group is filed under the rarest class of its images (images without boxes under a class of their
    own); within a class the groups are permuted by ``seed`` and every held-out split takes whole
    groups until it holds its share of the images, at least one image of every class with three or
    more images, and at least one image in all. An image alone is a group of one, so without
    ``groups`` the split is image by image. Deterministic for a given ``coco``, ``seed`` and
    ``groups``. Each part's ``info`` records the split.
    """
    if any(not 0 < f < 1 for f in fractions.values()) or sum(fractions.values()) >= 1:
        raise ValueError(f'split fractions must be in (0, 1) and sum to < 1, got {fractions}')
    frequency: dict[int, int] = {}
    classes: dict[int, set[int]] = {img['id']: set() for img in coco['images']}
    for ann in coco['annotations']:
        frequency[ann['category_id']] = frequency.get(ann['category_id'], 0) + 1
        classes[ann['image_id']].add(ann['category_id'])
    units = _units(classes, groups or {})
    strata: dict[int, list[int]] = {}
    for unit, ids in units.items():
        unit_classes = set().union(*(classes[i] for i in ids))
        rarest = min(unit_classes, key=lambda c: (frequency[c], c)) if unit_classes else -1
        strata.setdefault(rarest, []).append(unit)
    rng = np.random.default_rng(seed)
    assigned: dict[str, set[int]] = {name: set() for name in ('train', *fractions)}
    permuted = {stratum: [int(i) for i in rng.permutation(strata[stratum])] for stratum in sorted(strata)}
    for stratum, stratum_units in permuted.items():
        images = sum(len(units[u]) for u in stratum_units)
        start = 0
        for name, fraction in fractions.items():
            take = int(round(fraction * images))
            if take == 0 and images >= 3:
                take = 1
            taken = 0
            while taken < take and start < len(stratum_units):
                assigned[name].add(stratum_units[start])
                taken += len(units[stratum_units[start]])
                start += 1
        assigned['train'].update(stratum_units[start:])
    for name in fractions:  # many rare classes can leave a small held-out split empty: never evaluate on nothing
        if not assigned[name] and len(assigned['train']) > 1:
            by_size = sorted(permuted, key=lambda k: -len(permuted[k]))  # stable: ties keep stratum order
            moved = next(u for k in by_size for u in permuted[k] if u in assigned['train'])
            assigned['train'].discard(moved)
            assigned[name].add(moved)
    out = {}
    for name, chosen in assigned.items():
        ids = {i for unit in chosen for i in units[unit]}
        out[name] = {**coco,
                     'info': {'split_of': source, 'split': name, 'fractions': fractions, 'seed': seed},
                     'images': [img for img in coco['images'] if img['id'] in ids],
                     'annotations': [ann for ann in coco['annotations'] if ann['image_id'] in ids],
                     'categories': coco['categories']}
    return out
