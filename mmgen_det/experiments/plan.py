"""What a sweep will hold and cost before it runs: image counts per split, seconds per stage, the
dry-run table.

In: the experiment (its data source, declared counts, split fractions and ``estimate`` rates) and,
for the table, the stage results of a dry run. Out: counts (``planned_splits``, ``planned_counts``,
``resolve_num_real``), seconds (:class:`ComputeEstimate`) and the text ``plan_summary`` prints.
Nothing here runs a stage or writes a file.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .config import Experiment, Schedule


def planned_splits(counts: dict[str, int], split: dict[str, Any]) -> dict[str, int]:
    """Images per split once the data stage has converted ``counts`` (images per split found).

    A lone split of another name is the training split; a missing val or test split is split off
    train, each taking its fraction of the training images as ``datasets.subsets.split_off`` does
    (which rounds per class and keeps byte-identical images together, so the real counts can differ by
    an image or so per class).
    """
    if 'train' not in counts and len(counts) == 1:
        counts = dict(train=next(iter(counts.values())))
    if 'train' not in counts:
        raise ValueError(f'splits {sorted(counts)} but no training split; the protocol draws the real subsets '
                         'from `train`')
    out = dict(counts)
    for name in ('val', 'test'):
        if name not in counts:
            out[name] = round(float(split[name]) * counts['train'])
            out['train'] -= out[name]
    return out


def planned_counts(exp: Experiment, source: Path, found: dict[str, int] | None) -> dict[str, Any]:
    """The data stage's image counts for a dry run: ``found`` (images per split, as the source reads with
    the experiment's data options) when the source is there, else the config's declared counts; the
    record says which."""
    if found is not None:
        origin = f'read from {source}'
    elif exp.declared_images:
        found, origin = dict(exp.declared_images), f'declared in the config ({source} not found)'
    else:
        raise FileNotFoundError(f'data.source {source} does not exist and data.num_images is not declared')
    counts = planned_splits(found, exp.split)
    for name in ('val', 'test'):
        if name not in found:
            origin += f'; {name} to be split off train'
    for name, n in (('val', exp.val_images), ('test', exp.test_images)):
        if n is not None:
            counts[name] = min(n, counts[name])
    return dict(num_images=counts, counts_origin=origin)


def resolve_num_real(value: int | str, train_images: int) -> int:
    """A ``num_real`` entry as an image count: ``'all'`` is the whole training split."""
    if value == 'all':
        return train_images
    if value > train_images:
        raise ValueError(f'num_real={value} but the real training split has only {train_images} images')
    return int(value)


@dataclass(frozen=True)
class ComputeEstimate:
    """Seconds a stage would take at the experiment's ``estimate`` rates; an upper bound for training,
    which is counted at ``max_iters`` (early stopping shortens it)."""
    rates: dict[str, Any]

    def rate(self, name: str) -> float:
        return float(self.rates.get(name, 0.0))

    def training(self, schedule: Schedule, val_images: int) -> float:
        validations = schedule.max_iters // schedule.val_interval
        return schedule.max_iters * self.rate('seconds_per_iter') + validations * self.testing(val_images)

    def testing(self, images: int) -> float:
        return images * self.rate('seconds_per_eval_image')

    def scoring(self, images: int) -> float:
        return images * self.rate('seconds_per_scored_image')

    def generation(self, generator: str, images: int) -> float:
        per_image = self.rates.get('seconds_per_generated_image', {})
        per_image = per_image.get(generator, 0.0) if isinstance(per_image, dict) else per_image
        return images * float(per_image)


def plan_summary(exp: Experiment, results: Sequence[Any]) -> str:
    """The dry-run table: image counts, stages by kind (cached / to run), estimated compute still to run.

    ``results`` are the dry run's stage results (``runner.StageResult``), the data stage first.
    """
    data = results[0].record
    counts = data['num_images']
    lines = [f"real images: train {counts['train']}, val {counts['val']}, test {counts['test']} "
             f"({data.get('counts_origin', 'converted')})"]
    for value in exp.num_real:
        n = resolve_num_real(value, counts['train'])
        synthetic = ', '.join(f'{g.name} {g.num_images(n)}' for g in exp.generators.values())
        lines.append(f'N={value}: {n} real training images x {len(exp.seeds)} seeds'
                     + (f'; generated per run: {synthetic}' if exp.synthetic_arms else ''))
    lines.append(f"{'stage':16s} {'cached':>7s} {'to run':>7s} {'images':>9s} {'est. h':>8s}")
    total = 0.0
    for kind in dict.fromkeys(r.stage for r in results):
        group = [r for r in results if r.stage == kind]
        todo = [r for r in group if r.status == 'to run']
        images = sum(int(r.record.get('num_images', 0) or 0) for r in todo) if kind == 'generate' else 0
        hours = sum(r.seconds for r in todo) / 3600
        total += hours
        lines.append(f'{kind:16s} {len(group) - len(todo):7d} {len(todo):7d} {images or "":>9} {hours:8.2f}')
    device = exp.estimate.get('device', 'GPU')
    lines.append(f'estimated compute still to run: {total:.1f} {device} hours (upper bound: every training '
                 'runs its max_iters; early stopping shortens it)')
    return '\n'.join(lines)
