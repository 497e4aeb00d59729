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

from typing import Any

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
