"""What a sweep will hold, cost and be able to tell before it runs: image counts per split, what the
test split can resolve, objects too small at the input scale, seconds per stage, the dry-run table.

In: the experiment (its data source as read, declared counts, split fractions, derived input scale and
``estimate`` rates) and, for the table, the stage results of a dry run. Out: counts
(``planned_splits``, ``planned_counts``, ``resolve_num_real``), what the data lets the report tell
(:func:`data_outlook`), seconds (:class:`ComputeEstimate`) and the text ``plan_summary`` prints.
Nothing here runs a stage, writes a file or decodes an image: the outlook comes from the COCO records
of the read (or, once converted, of the data stage's files).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ..datasets.profile import boxes_per_class, coco_classes, images_per_class
from ..utils.io import read_json
from . import stages
from .config import Experiment, Schedule
from .significance import CLASS_RESOLUTION, MIN_RESOLVED_BOXES, Z

if TYPE_CHECKING:
    from ..datasets.formats import ConvertedSplit

#: how wide the report's paired ΔmAP intervals came out against the unpaired binomial worst case of
#: :func:`resolvable_difference`: Fish4Knowledge (188 test images) 0.25-0.35, aquarium (63) 0.33-0.38,
#: raccoon (30) 0.48-0.59 (docs/benchmarks.md, 3 seeds), the demo (50, one seed) 0.57 (docs/experiments.md).
#: Two arms scored on the same images err together, and few APs lie near 0.5, where a proportion varies most
PAIRED_RATIO = (0.25, 0.6)


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


def planned_counts(exp: Experiment, source: Path, splits: list[ConvertedSplit] | None) -> dict[str, Any]:
    """The data stage's record for a dry run: images per split and what the data lets the report tell
    (:func:`data_outlook`), from ``splits`` (the source as read with the experiment's data options),
    split exactly as the data stage will split them; from the config's declared counts when the source
    is not there. ``counts_origin`` says which."""
    if splits is None:
        if not exp.declared_images:
            raise FileNotFoundError(f'data.source {source} does not exist and data.num_images is not declared')
        found, origin = dict(exp.declared_images), f'declared in the config ({source} not found)'
        counts = planned_splits(found, exp.split)
        for name, n in (('val', exp.val_images), ('test', exp.test_images)):
            if n is not None:
                counts[name] = min(n, counts[name])
        origin += ''.join(f'; {name} to be split off train' for name in ('val', 'test') if name not in found)
        return dict(num_images=counts, counts_origin=origin)
    cocos, carved = stages.real_splits(splits, exp.split, exp.source)
    used = {name: stages.evaluated_split(cocos[name], name, n)[0]
            for name, n in (('train', None), ('val', exp.val_images), ('test', exp.test_images))}
    carved_off = carved['split_off'] if carved else []
    origin = f'read from {source}' + ''.join(f'; {name} to be split off train' for name in carved_off)
    return dict(num_images={name: len(coco['images']) for name, coco in used.items()}, counts_origin=origin,
                outlook=data_outlook(exp, cocos, used['test']))


def resolve_num_real(value: int | str, train_images: int) -> int:
    """A ``num_real`` entry as an image count: ``'all'`` is the whole training split."""
    if value == 'all':
        return train_images
    if value > train_images:
        raise ValueError(f"num_real={value} but the real training split has only {train_images} images: ask for "
                         f"'all' (its {train_images} images) or at most {train_images} (--num-real all or "
                         f'--num-real {train_images})')
    return int(value)


# -- what the data lets the report tell ------------------------------------------------------------
def data_outlook(exp: Experiment, cocos: dict[str, dict], test: dict) -> dict[str, Any]:
    """What the data lets a sweep tell, as plain data: per class, the test split's boxes and the images
    holding them (what every AP of the report rests on), and, where the experiment records its derived
    input scale, the objects of every split under the detector's useful size at that scale."""
    classes = coco_classes(test)
    outlook: dict[str, Any] = dict(test_images=len(test['images']),
                                   test_boxes=dict(zip(classes, boxes_per_class(test, crowd=False))),
                                   test_images_with=dict(zip(classes, images_per_class(test))))
    scale = exp.derived.get('input_scale')
    if scale:
        outlook['small'] = small_objects(cocos, tuple(scale['scale']), exp.derived['device'])
    return outlook


def small_objects(cocos: dict[str, dict], scale: tuple[int, int], device: str) -> dict[str, Any]:
    """Per class, [objects under the useful side, objects] over ``cocos``, each image resized to
    ``scale`` as the pipelines' keep-ratio ``Resize`` does (a training crop after it keeps the scale).
    An object's side is sqrt(box area), the measure the input scale is derived from
    (:func:`~mmgen_det.recipes.input_scale`)."""
    from mmcv import rescale_size
    from ..recipes import MIN_OBJECT_SIDE
    min_side = MIN_OBJECT_SIDE[device]
    counts: dict[str, list[int]] = {}
    for coco in cocos.values():
        names = dict(zip((c['id'] for c in coco['categories']), coco_classes(coco)))
        factor = {im['id']: rescale_size((im['width'], im['height']), scale, return_scale=True)[1]
                  for im in coco['images']}
        for a in coco['annotations']:
            if a.get('iscrowd'):
                continue
            side = math.sqrt(a['bbox'][2] * a['bbox'][3]) * factor[a['image_id']]
            count = counts.setdefault(names[a['category_id']], [0, 0])
            count[0] += int(side < min_side)
            count[1] += 1
    return dict(min_side=min_side, scale=list(scale), per_class=counts)


def resolvable_difference(boxes: Sequence[int]) -> tuple[float, float] | None:
    """The smallest mAP difference (the mean AP over classes with these test box counts) a 95% interval
    over the test split excludes 0 for, as a (low, high) range; ``None`` without a test box.

    Each class's AP is taken as a proportion of its boxes found, whose binomial standard error is at most
    0.5 / sqrt(boxes); the mean over K classes has sqrt(sum 0.25 / boxes) / K, and an interval Z of them
    wide on each side. :data:`PAIRED_RATIO` scales that worst case to the paired intervals measured."""
    counts = [n for n in boxes if n > 0]
    if not counts:
        return None
    worst = Z * math.sqrt(sum(0.25 / n for n in counts)) / len(counts)
    return PAIRED_RATIO[0] * worst, PAIRED_RATIO[1] * worst


def outlook_lines(outlook: dict[str, Any], exp: Experiment) -> list[str]:
    """The dry run's lines on what the report will be able to tell, and on objects too small to detect."""
    boxes, images = outlook['test_boxes'], outlook['test_images_with']
    width = max(len('class'), *(len(repr(name)) for name in boxes))
    lines = [f"test split (what every mAP of the report is measured on): {outlook['test_images']} images, "
             f'{sum(boxes.values())} boxes',
             f"  {'class':{width}s} {'boxes':>6s} {'images':>6s} {'smallest ΔAP':>13s}  can the report tell a "
             'difference for it?']
    for name, n in boxes.items():
        low_high = resolvable_difference([n])
        smallest = f'{low_high[0]:.2f}-{low_high[1]:.2f}' if low_high else '-'
        tell = (f'no: too few test boxes to tell (under {MIN_RESOLVED_BOXES})' if n < MIN_RESOLVED_BOXES else
                f'maybe: yes if its real-only AP comes out within ±{CLASS_RESOLUTION} (the report checks)')
        lines.append(f'  {name!r:{width}s} {n:6d} {images[name]:6d} {smallest:>13s}  {tell}')
    overall = resolvable_difference(list(boxes.values()))
    if overall:
        lines += [f'smallest mAP difference the test split can tell from noise: about {overall[0]:.2f}-'
                  f'{overall[1]:.2f}; a smaller one reads "no measurable difference"',
                  "  how (and per class, \"smallest ΔAP\"): each class's AP taken as a binomial proportion of its "
                  'test boxes, standard error at most 0.5/sqrt(boxes), and mAP as their mean over the classes;',
                  f'  ±{Z:.2f} standard errors of that is the unpaired worst case, and the paired intervals of the '
                  f'report came out {PAIRED_RATIO[0]}-{PAIRED_RATIO[1]}x as wide on four test splits '
                  '(docs/benchmarks.md, docs/experiments.md)']
    small = outlook.get('small')
    if small:
        lines += small_object_lines(small, exp)
    return lines


def small_object_lines(small: dict[str, Any], exp: Experiment) -> list[str]:
    """Which classes lose objects under the detector's useful size at the derived scale, and the fixes."""
    per_class = small['per_class']
    under = {name: (k, n) for name, (k, n) in per_class.items() if k}
    where = f"at the derived input scale (frames resized to fit {small['scale'][0]}x{small['scale'][1]})"
    useful = f"{small['min_side']} px (sqrt of box area; two cells of the finest, stride-8 level)"
    if not under:
        return [f'small objects: none under {useful} {where}']
    total = sum(k for k, _ in under.values())
    listed = ', '.join(f'{name!r} {k} of {n} ({k / n:.0%})' for name, (k, n) in under.items())
    fixes = ['a larger Resize scale in configs/detector.py (slower training)']
    if exp.derived.get('device') == 'cpu':
        fixes.append('--device gpu (long side up to 1333 px instead of 960)')
    fixes.append('labelling tiles of the frames, so each object covers more of its image')
    return [f'small objects: {total} of {sum(n for _, n in per_class.values())} boxes are under {useful} {where}, '
            f'so the detector will mostly miss them: {listed}',
            f"  to keep them: {'; '.join(fixes)}"]


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


def converted_outlook(exp: Experiment, data: Any) -> dict[str, Any]:
    """:func:`data_outlook` of a data stage that ran (``runner.StageResult``), from its converted files."""
    root = data.dir / 'coco'
    cocos = {name: read_json(root / 'annotations' / f'{name}.json') for name in ('train', 'val', 'test')}
    return data_outlook(exp, cocos, read_json(root / data.record['ann_files']['test']))


def this_machine() -> str:
    """The machine a dry run runs on, as its estimate's basis names it: CPU cores and CUDA GPU."""
    import torch
    gpu = f'CUDA GPU {torch.cuda.get_device_name(0)}' if torch.cuda.is_available() else 'no CUDA GPU'
    return f'{len(os.sched_getaffinity(0))} CPU cores, {gpu}'


def estimate_basis(exp: Experiment) -> str:
    """Where the hours come from: the ``estimate`` rates, what they were timed on, and this machine."""
    rates = ComputeEstimate(exp.estimate)
    per_image = ', '.join(f'{g} {rates.generation(g, 1):g} s' for g in exp.generators)
    source = exp.estimate.get('basis') or f"`estimate` in {exp.filename or 'the experiment config'}"
    return (f"est. h: at {exp.estimate.get('device', 'GPU')} rates ({source}): {rates.rate('seconds_per_iter'):g} s "
            f"per training iteration, {rates.rate('seconds_per_eval_image'):g} s per evaluated image, "
            f"{rates.rate('seconds_per_scored_image'):g} s per scored image"
            + (f', per generated image {per_image}' if per_image else '')
            + f'; this dry run ran on {this_machine()}: other hardware runs faster or slower than the rates say')


def plan_summary(exp: Experiment, results: Sequence[Any]) -> str:
    """The dry-run table: image counts, what the test split can tell and objects too small to detect,
    stages by kind (cached / to run), estimated compute still to run and what it is estimated from.

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
    outlook = converted_outlook(exp, results[0]) if results[0].status == 'cached' else data.get('outlook')
    lines += outlook_lines(outlook, exp) if outlook else ['test split: not read (counts declared in the config)']
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
    lines.append(estimate_basis(exp))
    return '\n'.join(lines)
