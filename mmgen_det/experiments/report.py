"""Results of a sweep: ``results.csv``, the summary table, the equivalent-N figure, plots, ``report.md``.

In: one row per run (N, arm, generator, filter, seed, COCO metrics, counts, iterations, seconds,
backbone initialisation). Out: files in the work dir. Everything except the plot is pure and needs
neither mmdet nor a GPU.

A metric that was not computed is missing (``None``; an empty csv cell, ``n/a`` in tables), never 0:
means over seeds use the seeds that have it, and say how many had none.

Equivalent number of real images (the reference study's headline figure): the N at which the
real-only mAP-vs-N curve reaches an arm's mAP, interpolated linearly in log N (detection mAP grows
roughly linearly in log N), on the curve's running maximum so a noisy dip cannot give two answers.
"""
from __future__ import annotations

import csv
import json
import math
import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

COCO_KEYS = {'coco/bbox_mAP': 'mAP', 'coco/bbox_mAP_50': 'mAP50', 'coco/bbox_mAP_75': 'mAP75',
             'coco/bbox_mAP_s': 'mAP_s', 'coco/bbox_mAP_m': 'mAP_m', 'coco/bbox_mAP_l': 'mAP_l'}
RUN_FIELDS = ['num_real', 'arm', 'generator', 'filter', 'seed']
TAIL_FIELDS = ['metrics_computed', 'val_metrics_computed', 'backbone_init', 'num_synthetic', 'iterations',
               'stage_iterations', 'wall_seconds', 'stage_seconds', 'val_mAP', 'best_iter', 'checkpoint',
               'test_config', 'detections']
NONE = '-'
MISSING = 'n/a'
REAL_ONLY = 'real-only'
CONTROL = 'compute-matched'
#: what the compute-matched control is, said wherever it is shown (table, plot, method)
CONTROL_WHAT = 'real-only trained as long as the generated-data runs'
CONTROL_SAME = 'here the same runs as real-only'
#: the title ``results.write_outputs`` gives the mAP-vs-N plot: the report puts its caption under it
MAP_VS_N = 'mAP vs N'
#: the one uncertainty of a table with intervals, named in its header
INTERVAL = '95% interval over test images and seeds'
#: columns ``significance.Significance.csv_columns`` fills: the run's series at its N, with intervals
STAT_FIELDS = ['mAP_low', 'mAP_high', 'delta_mAP', 'delta_mAP_low', 'delta_mAP_high', 'delta_mAP50',
               'delta_mAP50_low', 'delta_mAP50_high', 'verdict', 'verdict_vs_compute_matched', 'real_images']
#: C0/C1 control characters and the Unicode line and paragraph separators
UNPRINTABLE = re.compile(r'[\x00-\x1f\x7f-\x9f\u2028\u2029]')


@dataclass(frozen=True)
class Equivalent:
    """An arm's worth in real images: ``value`` when inside the real-only curve, else ``None`` and
    ``text`` says on which side (e.g. '> 300')."""
    value: float | None
    text: str


def md_code(text: Any) -> str:
    """``text`` as a markdown code span that shows it as it is (a name from a dataset may hold
    backticks, ``|``, ``[]()``, HTML or a line break) and stays one cell of a table.

    Control characters and Unicode line separators are shown as escapes (``\\r``, ``\\x00``): a
    markdown renderer ends a line at ``\\r`` as at ``\\n``, which would end the code span and let the
    rest of the name render as markdown (a live link).
    """
    text = UNPRINTABLE.sub(lambda m: m.group().encode('unicode_escape').decode('ascii'), str(text))
    text = text.replace('|', '\\|')
    fence = '`' * (max(map(len, re.findall('`+', text)), default=0) + 1)
    pad = ' ' if text.startswith('`') or text.endswith('`') else ''
    return f'{fence}{pad}{text}{pad}{fence}'


# -- rows -----------------------------------------------------------------------------------------
def metric_columns(metrics: dict[str, float]) -> dict[str, Any]:
    """COCO metrics from ``runner.test()`` -> csv columns: mAP, mAP50, ... and ``AP_<class>``.

    CocoMetric returns nothing for a model without a single detection above its score threshold: the
    metrics are then missing (``None``), not 0, and ``metrics_computed`` is False.
    """
    out: dict[str, Any] = {name: metrics.get(key) for key, name in COCO_KEYS.items()}
    out['metrics_computed'] = 'coco/bbox_mAP' in metrics
    for key, value in metrics.items():
        if key.startswith('coco/') and key.endswith('_precision'):
            out['AP_' + key[len('coco/'):-len('_precision')]] = value
    return out


def metric_value(value: Any) -> float | None:
    """A metric cell as a number, ``None`` when missing (``None`` in memory, ``''`` read back from csv)."""
    return None if value is None or value in ('', MISSING) else float(value)


def fmt(value: float | None, spec: str = '.3f') -> str:
    return MISSING if value is None else format(value, spec)


def fieldnames(rows: Sequence[dict[str, Any]]) -> list[str]:
    class_cols = []
    for row in rows:
        class_cols += [k for k in row if k.startswith('AP_') and k not in class_cols]
    return RUN_FIELDS + list(COCO_KEYS.values()) + class_cols + TAIL_FIELDS + STAT_FIELDS


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
    """One entry per (series, N): mean/std/min/max of mAP over the seeds that have it (``None`` when
    none has), ``missing`` seeds without it, means of the other numbers, and the runs' checkpoints by
    seed (which tell a compute-matched control that is real-only's own training)."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((series_of(row), int(row['num_real'])), []).append(row)
    out = []
    for (series, n), group in sorted(groups.items(), key=lambda kv: (kv[0][1], _arm_order(kv[0][0]))):
        maps = [m for m in (metric_value(r['mAP']) for r in group) if m is not None]
        maps50 = [m for m in (metric_value(r['mAP50']) for r in group) if m is not None]

        def mean(key: str) -> float:
            return statistics.fmean(float(r[key]) for r in group)
        out.append(dict(series=series, num_real=n, seeds=len(group), missing=len(group) - len(maps),
                        mAP=statistics.fmean(maps) if maps else None,
                        mAP_std=statistics.stdev(maps) if len(maps) > 1 else 0.0,
                        mAP_min=min(maps, default=None), mAP_max=max(maps, default=None),
                        mAP50=statistics.fmean(maps50) if maps50 else None, num_synthetic=mean('num_synthetic'),
                        iterations=mean('iterations'), wall_seconds=mean('wall_seconds'),
                        checkpoints=sorted((str(r['seed']), str(r.get('checkpoint') or '')) for r in group),
                        **{k: next((r[k] for r in group if r.get(k) not in (None, '')), None) for k in STAT_FIELDS}))
    return out


def missing_note(entry: dict[str, Any]) -> str:
    """Says how many seeds of a summary entry had no metrics (empty when all had them)."""
    if not entry.get('missing'):
        return ''
    return f" (no metrics for {entry['missing']} of {entry['seeds']} seeds: no detection)"


def _arm_order(series: tuple[str, str, str]) -> tuple:
    from .config import ARMS
    return (ARMS.index(series[0]) if series[0] in ARMS else len(ARMS), series[1], series[2])


def real_only_curve(summary: Sequence[dict[str, Any]]) -> list[tuple[int, float]]:
    return sorted((s['num_real'], s['mAP']) for s in summary if s['series'][0] == REAL_ONLY and s['mAP'] is not None)


def equivalent_real_images(curve: Sequence[tuple[int, float]], value: float | None) -> Equivalent:
    """N on the real-only curve with mAP ``value`` (see the module docstring)."""
    if not curve or value is None:
        return Equivalent(None, MISSING)
    ns, best, envelope = [], -math.inf, []
    for n, m in sorted(curve):
        best = max(best, m)
        ns.append(n)
        envelope.append(best)
    if envelope[-1] <= 0.0:  # real-only learnt nothing: no N to read off
        return Equivalent(None, MISSING)
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
def same_training(summary: Sequence[dict[str, Any]], control: dict[str, Any]) -> bool:
    """Whether a compute-matched entry is the real-only runs of its N themselves (the runner reuses them
    when real-only already trained a fixed schedule as long): the same checkpoints, seed by seed. Its
    numbers then equal real-only's, and the report has to say why."""
    real = next((s for s in summary if s['series'][0] == REAL_ONLY and s['num_real'] == control['num_real']), None)
    return (real is not None and all(checkpoint for _, checkpoint in control['checkpoints'])
            and real['checkpoints'] == control['checkpoints'])


def control_label(same: bool) -> str:
    """The compute-matched control named as what it is, wherever it is shown."""
    return f"{CONTROL} ({CONTROL_WHAT}{f'; {CONTROL_SAME}' if same else ''})"


def is_gain(entry: dict[str, Any]) -> bool:
    """Whether the verdict against real-only is a gain (``significance.verdict``): only a measured gain
    gets a worth in real images beside it."""
    return str(entry.get('verdict') or '').startswith('gain ')


def summary_table(summary: Sequence[dict[str, Any]]) -> str:
    """Markdown table of every arm at every N with one kind of uncertainty, named in its header: the 95%
    interval where the sweep has intervals (then with the verdict against real-only and, beside a gain
    only, the worth in real images), else the spread over seeds (a sweep that kept no detections)."""
    intervals = any(s.get('mAP_low') is not None for s in summary)

    def arm(s: dict[str, Any]) -> str:
        return control_label(same_training(summary, s)) if s['series'][0] == CONTROL else s['series'][0]

    def mean(s: dict[str, Any]) -> str:
        if s['mAP'] is None:
            spread = ''
        elif not intervals:
            spread = f" ± {s['mAP_std']:.3f}"
        elif s.get('mAP_low') is not None:
            spread = f" [{float(s['mAP_low']):.3f}, {float(s['mAP_high']):.3f}]"
        else:  # a series not analysed (a run without kept detections)
            spread = f' [{MISSING}]'
        return f"{fmt(s['mAP'])}{spread}{missing_note(s)}"

    def generated(s: dict[str, Any]) -> bool:
        return s['series'][0] not in (REAL_ONLY, CONTROL)
    columns = [('N', '---:', lambda s: str(s['num_real'])), ('arm', '---', arm),
               ('generator', '---', lambda s: s['series'][1]), ('filter', '---', lambda s: s['series'][2]),
               ('seeds', '---:', lambda s: str(s['seeds'])),
               (f'mAP [{INTERVAL}]' if intervals else 'mAP (mean over seeds ± standard deviation)', '---:', mean),
               ('mAP50', '---:', lambda s: fmt(s['mAP50']))]
    if intervals:
        columns += [('vs real-only: difference in mAP [95% interval]', '---',
                     lambda s: (s.get('verdict') or MISSING) if generated(s) else NONE),
                    ('≈ real images [95% interval], beside a gain only', '---',
                     lambda s: (s.get('real_images') or MISSING) if is_gain(s) else NONE)]
    columns += [('generated images kept', '---:', lambda s: f"{s['num_synthetic']:.0f}"),
                ('iterations', '---:', lambda s: f"{s['iterations']:.0f}"),
                ('wall s', '---:', lambda s: f"{s['wall_seconds']:.0f}")]
    lines = ['| ' + ' | '.join(c[0] for c in columns) + ' |', '|' + '|'.join(c[1] for c in columns) + '|']
    lines += ['| ' + ' | '.join(cell(s) for _, _, cell in columns) + ' |' for s in summary]
    return '\n'.join(lines)


def curve_warning(curve: Sequence[tuple[int, float]]) -> str | None:
    """A warning when real-only mAP falls as N grows: the sweep's noise is then larger than the
    effect of more real images, and any equivalent N read off the curve is not to be trusted."""
    drops = [(n0, m0, n1, m1) for (n0, m0), (n1, m1) in zip(curve, curve[1:]) if m1 < m0]
    if not drops:
        return None
    where = '; '.join(f'N={n1}: {m1:.3f} < N={n0}: {m0:.3f}' for n0, m0, n1, m1 in drops)
    return (f'- **Warning: the real-only mAP falls as N grows** ({where}). Training is too short or too noisy '
            'for this comparison (more seeds or iterations); the "≈ real images" figures below are read off '
            'these real-only results and are not to be trusted.')


def boxes_per_class_line(boxes: dict[str, int]) -> list[str]:
    """The test boxes per class, for the report's data section (what each class's AP rests on)."""
    return ['- test boxes per class: ' + ', '.join(f'{md_code(name)} {n}' for name, n in boxes.items())] if boxes else []


def unvalidated_lines(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Runs whose tested checkpoint was not chosen on val: no validation produced metrics (no
    detection), so the stage tested its last checkpoint."""
    flagged = [r for r in rows if str(r.get('val_metrics_computed')) == 'False']
    if not flagged:
        return []
    runs = ', '.join(f"{series_label(series_of(r))} N={r['num_real']} seed {r['seed']}" for r in flagged)
    return [f'- no validation produced metrics (no detection) in {len(flagged)} of {len(rows)} runs, so their '
            f'last checkpoint was tested: {runs}']


def backbone_lines(rows: Sequence[dict[str, Any]]) -> list[str]:
    """How the runs' backbones started (checkpoint and sha256, or scratch), one line per start."""
    starts: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        starts.setdefault(str(row.get('backbone_init') or 'not recorded'), []).append(row)
    lines = []
    for start, group in starts.items():
        series = ', '.join(dict.fromkeys(series_label(series_of(r)) for r in group))
        runs = f'all {len(rows)} runs' if len(group) == len(rows) else f'{len(group)} of {len(rows)} runs: {series}'
        lines.append(f'- backbone initialisation: `{start}` ({runs})')
    return lines


def data_section(data: dict[str, Any], derived: dict[str, Any], test_boxes: dict[str, int] | None = None) -> list[str]:
    """What the runs were made from: classes, split sizes, held-out splits made, what the test split
    can resolve, derived settings."""
    counts = data.get('num_images', {})
    lines = ['## Data', '',
             f"- classes ({len(data.get('classes', []))}, label order): "
             + ', '.join(md_code(c) for c in data.get('classes', [])),
             '- images: ' + ', '.join(f'{k} {v}' for k, v in counts.items())]
    split = data.get('split')
    if split:
        lines.append(f"- the data has no {' / '.join(split['split_off'])} split: held out {split['fractions']} of "
                     f"its training images, class-stratified, seed {split['seed']}")
    lines += boxes_per_class_line(test_boxes or {})
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
                  images: dict[str, str], notes: Sequence[str] = (), data: Sequence[str] = (),
                  verdict: Sequence[str] = (), classes: Sequence[str] = (), answer: Sequence[str] = ()) -> str:
    """``report.md``, written for a reader who is no statistician: the answer per N first
    (``significance.answer_lines``), then in plain words the table, the verdicts
    (``significance.verdict_lines``, per class ``significance.class_table``), data, plots with captions;
    the precise method last ("How this is computed": training protocol and ``significance.method_lines``),
    then the exact settings."""
    from .significance import method_lines
    summary = aggregate(rows)
    warning = curve_warning(real_only_curve(summary))
    parts = [f'# Experiment {md_code(name)}', '',
             *(['## The answer', '', *answer, '',
                'N: the number of real training images. [brackets]: a 95% interval, the range a figure would '
                'likely fall in with other test images and other training seeds; a difference whose interval '
                'includes 0 could be noise.', ''] if answer else []),
             '## Results', '',
             f'{len(rows)} runs. **mAP**: COCO box mean average precision on the real **test** split, from 0 to 1, '
             'higher is better (each run evaluated once, with the checkpoint chosen on the real **val** split); '
             '**mAP50** counts a box as found when it overlaps the true box by half or more; **arm**: how the '
             'detector was trained. Per-run rows (per-class AP, iterations and seconds per stage): `results.csv`.',
             '', *backbone_lines(rows), *unvalidated_lines(rows), '', summary_table(summary), '',
             '## Is the difference real?', '',
             *(['"≈ real images", given beside a gain only: how many real images real-only training needs to reach '
                'the same mAP, read off this sweep\'s real-only results at its other N (with its 95% interval).', '']
               if any(is_gain(s) and s.get('real_images') for s in summary) else []),
             *([warning] if warning else []), *verdict, '',
             *(['### Per class', '', *classes] if classes else []), *data]
    if images:
        parts += ['## Plots and samples', '']
        for title, path in images.items():
            parts += [f'![{title}]({path})', *([f'*{plot_caption(rows)}*'] if title == MAP_VS_N else []), '']
    parts += ['## How this is computed', '', '### Training', '',
              '- Every training stage runs until val mAP has not improved for `patience` validations '
              '(or `max_iters`); its best-val checkpoint is the one tested.',
              f'- `{CONTROL}` ({CONTROL_WHAT}): real-only training for as many iterations as the longest '
              'generated-data run of the same N and seed took (pretrain + finetune, or mixed), on a fixed '
              'schedule without early stopping: a gain of a generated-data arm over it is not a gain from more '
              'training. Where real-only itself already trained such a fixed schedule with the same detector, its '
              'runs are the control: one training, shown in both rows, compared with once (as real-only).',
              '- A seed picks the real subset (nested in N) and seeds generation and training.',
              *[f'- {n}' for n in notes], '',
              '### Intervals and verdicts', '', *method_lines(), '',
              '## Settings', '', '```json', json.dumps(settings, indent=1, default=str), '```', '']
    return '\n'.join(parts)


# -- plots ----------------------------------------------------------------------------------------
#: the compute-matched control is drawn this factor right of its N (log x): real-only's line would hide it
CONTROL_SHIFT = 1.08


def error_bars_text(rows: Sequence[dict[str, Any]]) -> str:
    """What the plot's error bars and dots are, said in the figure and in its caption alike."""
    seeds = len({str(r['seed']) for r in rows})
    return (f"error bars: from the lowest to the highest seed ({seeds} seed{'s' * (seeds > 1)}), not the 95% "
            'intervals of the tables; dots: single seeds')


def plot_caption(rows: Sequence[dict[str, Any]]) -> str:
    """The caption under the mAP-vs-N plot: what its lines or bars, error bars and dots are, and where
    the compute-matched control is drawn."""
    summary = aggregate(rows)
    ns = sorted({s['num_real'] for s in summary})
    what = ('mAP on the test split against the number of real training images N (log scale), each line the '
            'mean over seeds' if len(ns) > 1 else f'mAP on the test split at N={ns[0]}, each bar the mean over seeds')
    controls = [s for s in summary if s['series'][0] == CONTROL]
    control = ''
    if controls:
        drawn = ('dashed, with hollow squares, drawn just right of its N so that real-only does not hide it'
                 if len(ns) > 1 else 'the hatched bar')
        control = f' {control_label(all(same_training(summary, c) for c in controls))}: {drawn}.'
    return f'{what}; {error_bars_text(rows)}.{control}'


def map_vs_n_figure(rows: Sequence[dict[str, Any]]):
    """mAP vs N (log x) per series: mean line, min-max bar over seeds, each seed a dot; the
    compute-matched control dashed with hollow squares, shifted right of its N so that it shows where it
    equals real-only. A sweep of one N has no curve: it gets one bar per series (seeds as dots, the
    control hatched) and a title that says so. What the bars are is written under the axes."""
    import textwrap

    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    summary = aggregate(rows)
    series_list = list(dict.fromkeys(s['series'] for s in summary))
    ns = sorted({s['num_real'] for s in summary})
    same = all(same_training(summary, s) for s in summary if s['series'][0] == CONTROL)
    fig, ax = plt.subplots(figsize=(7, 4.8))
    for i, series in enumerate(series_list):
        points = [s for s in summary if s['series'] == series and s['mAP'] is not None]
        if not points:  # no metrics at any N: nothing to draw, the tables say n/a
            continue
        means = [p['mAP'] for p in points]
        err = [[m - p['mAP_min'] for m, p in zip(means, points)], [p['mAP_max'] - m for m, p in zip(means, points)]]
        seeds = [r for r in rows if series_of(r) == series and metric_value(r['mAP']) is not None]
        control = series[0] == CONTROL
        label = textwrap.fill(control_label(same), 48) if control else series_label(series)
        if len(ns) == 1:
            bar = ax.bar(i, means[0], yerr=[[e] for e in (err[0][0], err[1][0])], capsize=4, alpha=0.7,
                         hatch='//' if control else None, label=label)
            color = bar.patches[0].get_facecolor()
            xs = [i] * len(seeds)
        else:
            shift = CONTROL_SHIFT if control else 1.0
            line = ax.errorbar([p['num_real'] * shift for p in points], means, yerr=err, capsize=3,
                               marker='s' if control else 'o', markerfacecolor='none' if control else None,
                               linestyle='--' if control else '-', label=label, zorder=4 if control else 2)
            color = line[0].get_color()
            xs = [int(r['num_real']) * shift for r in seeds]
        ax.scatter(xs, [float(r['mAP']) for r in seeds], s=12, alpha=0.8, color=color, edgecolors='black',
                   linewidths=0.3, zorder=5)
    if len(ns) == 1:
        ax.set_xticks(range(len(series_list)), [s[0] for s in series_list], rotation=15, fontsize=8)
        ax.set_title(f'one N ({ns[0]} real images): no curve; run several --num-real for mAP vs N', fontsize=9)
    else:
        ax.set_xscale('log')
        ax.set_xlabel('real training images N')
    ax.set_ylabel('COCO mAP (real test split)')
    ax.grid(True, which='both', alpha=0.3)
    ax.legend(fontsize=7)
    fig.text(0.5, 0.01, error_bars_text(rows), ha='center', va='bottom', fontsize=7)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def plot_map_vs_n(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """:func:`map_vs_n_figure` saved as a PNG (atomically: a killed run leaves the old plot whole)."""
    import matplotlib.pyplot as plt

    from ..utils.io import atomic_write
    fig = map_vs_n_figure(rows)
    path = Path(path)
    with atomic_write(path) as f:
        fig.savefig(f, format='png', dpi=120)
    plt.close(fig)
    return path
