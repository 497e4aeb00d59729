"""Results of a sweep: ``results.csv``, the summary table, the equivalent-N figure, plots, ``report.md``.

In: one row per run (N, arm, generator, filter, seed, COCO metrics, counts, iterations, seconds).
Out: files in the work dir. Everything except the plot is pure and needs neither mmdet nor a GPU.

Equivalent number of real images (the reference study's headline figure): the N at which the
real-only mAP-vs-N curve reaches an arm's mAP, interpolated linearly in log N (detection mAP grows
roughly linearly in log N), on the curve's running maximum so a noisy dip cannot give two answers.
"""
from __future__ import annotations

import csv
import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

COCO_KEYS = {'coco/bbox_mAP': 'mAP', 'coco/bbox_mAP_50': 'mAP50', 'coco/bbox_mAP_75': 'mAP75',
             'coco/bbox_mAP_s': 'mAP_s', 'coco/bbox_mAP_m': 'mAP_m', 'coco/bbox_mAP_l': 'mAP_l'}
RUN_FIELDS = ['num_real', 'arm', 'generator', 'filter', 'seed']
TAIL_FIELDS = ['metrics_computed', 'num_synthetic', 'iterations', 'stage_iterations', 'wall_seconds',
               'stage_seconds', 'val_mAP', 'best_iter', 'checkpoint', 'test_config']
NONE = '-'
REAL_ONLY = 'real-only'


@dataclass(frozen=True)
class Equivalent:
    """An arm's worth in real images: ``value`` when inside the real-only curve, else ``None`` and
    ``text`` says on which side (e.g. '> 300')."""
    value: float | None
    text: str


# -- rows -----------------------------------------------------------------------------------------
def metric_columns(metrics: dict[str, float]) -> dict[str, Any]:
    """COCO metrics from ``runner.test()`` -> csv columns: mAP, mAP50, ... and ``AP_<class>``.

    CocoMetric returns nothing for a model without a single detection above its score threshold: its
    mAP is 0, and ``metrics_computed`` is False so tables flag the figure instead of passing it off.
    """
    out: dict[str, Any] = {name: metrics.get(key, 0.0) for key, name in COCO_KEYS.items()}
    out['metrics_computed'] = 'coco/bbox_mAP' in metrics
    for key, value in metrics.items():
        if key.startswith('coco/') and key.endswith('_precision'):
            out['AP_' + key[len('coco/'):-len('_precision')]] = value
    return out


def fieldnames(rows: Sequence[dict[str, Any]]) -> list[str]:
    class_cols = []
    for row in rows:
        class_cols += [k for k in row if k.startswith('AP_') and k not in class_cols]
    return RUN_FIELDS + list(COCO_KEYS.values()) + class_cols + TAIL_FIELDS


def write_csv(rows: Sequence[dict[str, Any]], path: str | Path) -> None:
    from ..utils.io import atomic_write
    with atomic_write(path, 'w') as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames(rows), extrasaction='ignore')
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path: str | Path) -> list[dict[str, str]]:
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


# -- aggregation ----------------------------------------------------------------------------------
def series_of(row: dict[str, Any]) -> tuple[str, str, str]:
    return row['arm'], str(row.get('generator') or NONE), str(row.get('filter') or NONE)


def series_label(series: tuple[str, str, str]) -> str:
    arm, gen, filt = series
    return arm if gen == NONE else f'{arm} ({gen}, filter {filt})'


def aggregate(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per (series, N): mean/std/min/max of mAP over seeds, mean of the other numbers."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((series_of(row), int(row['num_real'])), []).append(row)
    out = []
    for (series, n), group in sorted(groups.items(), key=lambda kv: (kv[0][1], _arm_order(kv[0][0]))):
        maps = [float(r['mAP']) for r in group]

        def mean(key: str) -> float:
            return statistics.fmean(float(r[key]) for r in group)
        flagged = sum(str(r.get('metrics_computed', True)) == 'False' for r in group)
        out.append(dict(series=series, num_real=n, seeds=len(group), no_detections=flagged,
                        mAP=statistics.fmean(maps),
                        mAP_std=statistics.stdev(maps) if len(maps) > 1 else 0.0, mAP_min=min(maps),
                        mAP_max=max(maps), mAP50=mean('mAP50'), num_synthetic=mean('num_synthetic'),
                        iterations=mean('iterations'), wall_seconds=mean('wall_seconds')))
    return out


def _arm_order(series: tuple[str, str, str]) -> tuple:
    from .config import ARMS
    return (ARMS.index(series[0]) if series[0] in ARMS else len(ARMS), series[1], series[2])


def real_only_curve(summary: Sequence[dict[str, Any]]) -> list[tuple[int, float]]:
    return sorted((s['num_real'], s['mAP']) for s in summary if s['series'][0] == REAL_ONLY)


def equivalent_real_images(curve: Sequence[tuple[int, float]], value: float) -> Equivalent:
    """N on the real-only curve with mAP ``value`` (see the module docstring)."""
    if not curve:
        return Equivalent(None, 'n/a')
    ns, best, envelope = [], -math.inf, []
    for n, m in sorted(curve):
        best = max(best, m)
        ns.append(n)
        envelope.append(best)
    if envelope[-1] <= 0.0:  # real-only learnt nothing: no N to read off
        return Equivalent(None, 'n/a')
    if value > envelope[-1]:
        return Equivalent(None, f'> {ns[-1]}')
    if value < envelope[0]:
        return Equivalent(None, f'< {ns[0]}')
    i = next(i for i, m in enumerate(envelope) if m >= value)
    if i == 0 or envelope[i] == value:
        return Equivalent(float(ns[i]), f'{ns[i]}')
    frac = (value - envelope[i - 1]) / (envelope[i] - envelope[i - 1])
    n = math.exp(math.log(ns[i - 1]) + frac * (math.log(ns[i]) - math.log(ns[i - 1])))
    return Equivalent(n, f'{n:.0f}')


# -- text -----------------------------------------------------------------------------------------
def summary_table(summary: Sequence[dict[str, Any]]) -> str:
    """Markdown table: mean ± std over seeds, iterations, wall time, equivalent real images."""
    curve = real_only_curve(summary)
    lines = ['| N | arm | generator | filter | seeds | mAP | mAP50 | synthetic kept | iterations | wall s '
             '| ≈ real images |', '|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|']
    for s in summary:
        arm, gen, filt = s['series']
        eq = equivalent_real_images(curve, s['mAP']).text if arm != REAL_ONLY else NONE
        flag = f" ({s['no_detections']} without a detection)" if s.get('no_detections') else ''
        lines.append(f"| {s['num_real']} | {arm} | {gen} | {filt} | {s['seeds']} | {s['mAP']:.3f} ± "
                     f"{s['mAP_std']:.3f}{flag} | {s['mAP50']:.3f} | {s['num_synthetic']:.0f} | {s['iterations']:.0f} "
                     f"| {s['wall_seconds']:.0f} | {eq} |")
    return '\n'.join(lines)


def headline(summary: Sequence[dict[str, Any]]) -> list[str]:
    """One sentence per non-real-only arm and N: what its mAP is worth in real images."""
    curve = real_only_curve(summary)
    out = []
    for s in summary:
        if s['series'][0] == REAL_ONLY:
            continue
        eq = equivalent_real_images(curve, s['mAP'])
        worth = f' ({eq.value / s["num_real"]:.2f}x its {s["num_real"]} real images)' if eq.value else ''
        out.append(f"- {series_label(s['series'])}, N={s['num_real']}: mAP {s['mAP']:.3f} is worth "
                   f'{eq.text} real images{worth}')
    return out


def data_section(data: dict[str, Any], derived: dict[str, Any]) -> list[str]:
    """What the runs were made from: classes, split sizes, held-out splits made, derived settings."""
    counts = data.get('num_images', {})
    lines = ['## Data', '',
             f"- classes ({len(data.get('classes', []))}, label order): "
             + ', '.join(f'`{c}`' for c in data.get('classes', [])),
             '- images: ' + ', '.join(f'{k} {v}' for k, v in counts.items())]
    split = data.get('split')
    if split:
        lines.append(f"- the data has no {' / '.join(split['split_off'])} split: held out {split['fractions']} of "
                     f"its training images, class-stratified, seed {split['seed']}")
    if derived:
        scale = derived.get('input_scale', {})
        profile = derived.get('profile', {})
        lines.append(f"- derived for {derived.get('device', '?').upper()} ({derived.get('detector')}): frames "
                     f"{profile.get('frame_width')}x{profile.get('frame_height')}, object side p10/p50/p90 "
                     f"{profile.get('object_side_p10')}/{profile.get('object_side_p50')}/"
                     f"{profile.get('object_side_p90')} px -> input scale {scale.get('scale')} "
                     f"({scale.get('factor')}x), training crop {scale.get('train_crop')}")
        for name, gen in derived.get('generation', {}).items():
            lines.append(f"- {name}: canvas {gen['canvas']}" + (f", zoom {gen['zoom']}" if gen.get('zoom') else ''))
        lines += [f'- warning: {w}' for w in derived.get('warnings', [])]
    return lines + ['']


def render_report(name: str, rows: Sequence[dict[str, Any]], settings: dict[str, Any],
                  images: dict[str, str], notes: Sequence[str] = (), data: Sequence[str] = ()) -> str:
    """``report.md``: table, headline figure, data, plots, samples, protocol, exact settings."""
    summary = aggregate(rows)
    parts = [f'# Experiment `{name}`', '',
             f'{len(rows)} runs; every number is COCO bbox mAP on the real **test** split, evaluated once '
             'per run, with the checkpoint chosen on the real **val** split. Per-run rows (per-class AP, '
             'iterations and seconds per stage): `results.csv`.', '',
             '## Results (mean ± std over seeds)', '', summary_table(summary), '',
             '## Equivalent number of real images', '',
             'The N at which the real-only mAP-vs-N curve of this sweep reaches the arm\'s mAP '
             '(interpolated in log N; outside the measured range only the side is known).', '',
             *(headline(summary) or ['- (needs a real-only arm)']), '', *data]
    if images:
        parts += ['## Plots and samples', '']
        parts += [f'![{title}]({path})' for title, path in images.items()] + ['']
    parts += ['## Protocol', '',
              '- Every training stage runs until val mAP has not improved for `patience` validations '
              '(or `max_iters`); its best-val checkpoint is the one tested.',
              '- `compute-matched`: real-only training for as many iterations as the longest generated-data '
              'run of the same N and seed took (pretrain + finetune, or mixed), with no early stop: a gain '
              'of a generated-data arm over it is not a gain from more training.',
              '- A seed picks the real subset (nested in N) and seeds generation and training.',
              *[f'- {n}' for n in notes], '',
              '## Settings', '', '```json', json.dumps(settings, indent=1, default=str), '```', '']
    return '\n'.join(parts)


# -- plots ----------------------------------------------------------------------------------------
def plot_map_vs_n(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """mAP vs N (log x) per series: mean line, min-max bar over seeds, each seed a dot."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    summary = aggregate(rows)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for series in dict.fromkeys(s['series'] for s in summary):
        points = [s for s in summary if s['series'] == series]
        ns = [p['num_real'] for p in points]
        means = [p['mAP'] for p in points]
        err = [[m - p['mAP_min'] for m, p in zip(means, points)], [p['mAP_max'] - m for m, p in zip(means, points)]]
        line = ax.errorbar(ns, means, yerr=err, marker='o', capsize=3, label=series_label(series))
        seeds = [r for r in rows if series_of(r) == series]
        ax.scatter([int(r['num_real']) for r in seeds], [float(r['mAP']) for r in seeds], s=10, alpha=0.5,
                   color=line[0].get_color())
    ax.set_xscale('log')
    ax.set_xlabel('real training images N')
    ax.set_ylabel('COCO mAP (real test split)')
    ax.grid(True, which='both', alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
