"""Is a difference between arms real? Paired bootstrap intervals and the one verdict every output uses.

In: the results rows of a sweep (``results.csv``), each naming the detections its test kept
(``detections``) and the test config whose ground truth they were scored against. Out:
:class:`Significance`: each series' mAP with a 95% interval, each generated-data arm against
real-only and against the compute-matched control (ΔmAP, ΔmAP50, intervals, verdict), its worth in
real images with an interval, per-class intervals, and advice when an interval is too wide to decide.

The resampling is paired: every resample draws the test images once (with replacement) and the seeds
once (with replacement), and every run is scored on that same draw. A seed's runs share their real
subset, so two arms are compared seed by seed. The interval is the 2.5-97.5 percentile of the
resampled differences; its verdict is a gain when it lies above 0, a loss when below, otherwise no
measurable difference. No model is needed: AP is recomputed from the kept detections
(:class:`~mmgen_det.evaluation.ResampledCocoAP`).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .report import (CONTROL, INTERVAL, MISSING, NONE, REAL_ONLY, STAT_FIELDS, equivalent_real_images, md_code,
                     metric_value, series_label, series_of)

RESAMPLES = 1000
CONFIDENCE = 0.95
#: the resamples are drawn from this seed: the same rows give the same intervals
BOOTSTRAP_SEED = 0
#: a class with this many test boxes or more, whose real-only AP interval is at most CLASS_RESOLUTION
#: wide on each side, is one the test split resolves (fewer boxes: an AP near 0 has a narrow interval
#: that measures nothing)
CLASS_RESOLUTION = 0.05
MIN_RESOLVED_BOXES = 10
METRICS = ('mAP', 'mAP50')
#: the normal quantile of a two-sided 95% interval, for the power advice's variance arithmetic
Z = 1.959964

Series = tuple[str, str, str]


@dataclass(frozen=True)
class Interval:
    point: float
    low: float
    high: float

    def text(self, signed: bool = True) -> str:
        spec = '+.3f' if signed else '.3f'
        return f'{self.point:{spec}} [{self.low:{spec}}, {self.high:{spec}}]'

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    @property
    def gain(self) -> bool:
        """The whole interval lies above 0 (the one rule every verdict and answer uses)."""
        return self.low > 0

    @property
    def loss(self) -> bool:
        return self.high < 0


def verdict(delta: Interval | None, metric: str = 'mAP') -> str:
    """'gain +0.031 mAP [+0.012, +0.049]', 'loss ...' or 'no measurable difference [...]': decided by
    whether the interval lies above 0, below 0, or contains it."""
    if delta is None:
        return MISSING
    if delta.gain:
        return f'gain {delta.point:+.3f} {metric} [{delta.low:+.3f}, {delta.high:+.3f}]'
    if delta.loss:
        return f'loss {delta.point:+.3f} {metric} [{delta.low:+.3f}, {delta.high:+.3f}]'
    return f'no measurable difference [{delta.low:+.3f}, {delta.high:+.3f}]'


@dataclass
class Comparison:
    """One series against a baseline at one N."""
    series: Series
    baseline: str
    num_real: int
    seeds: int
    delta: dict[str, Interval]  # 'mAP', 'mAP50', 'AP_<class>'
    resolved: list[str] = field(default_factory=list)  # the classes the split resolves
    delta_resolved: Interval | None = None  # ΔmAP over those classes
    advice: str = ''

    @property
    def verdict(self) -> str:
        return verdict(self.delta.get('mAP'))


@dataclass
class Significance:
    resamples: int
    test_images: int
    own: dict[tuple[Series, int], dict[str, Interval]]  # each series' metrics at each N
    comparisons: list[Comparison]
    equivalents: dict[tuple[Series, int], str]
    boxes: dict[str, int]  # test boxes per class
    skipped: list[str] = field(default_factory=list)  # series at an N with a run that kept no detections

    def comparison(self, series: Series, n: int, baseline: str = REAL_ONLY) -> Comparison | None:
        return next((c for c in self.comparisons if (c.series, c.num_real, c.baseline) == (series, n, baseline)),
                    None)

    def csv_columns(self, row: dict[str, Any]) -> dict[str, Any]:
        """The columns of ``report.STAT_FIELDS`` for one results row (its series at its N)."""
        series, n = series_of(row), int(row['num_real'])
        out: dict[str, Any] = dict.fromkeys(STAT_FIELDS)
        own = self.own.get((series, n), {}).get('mAP')
        if own:
            out.update(mAP_low=round(own.low, 4), mAP_high=round(own.high, 4))
        vs_real, vs_control = self.comparison(series, n), self.comparison(series, n, CONTROL)
        if vs_real:
            for metric in METRICS:
                d = vs_real.delta[metric]
                out.update({f'delta_{metric}': round(d.point, 4), f'delta_{metric}_low': round(d.low, 4),
                            f'delta_{metric}_high': round(d.high, 4)})
            out['verdict'] = vs_real.verdict
        if vs_control:
            out['verdict_vs_compute_matched'] = vs_control.verdict
        out['real_images'] = self.equivalents.get((series, n))
        return out


def annotate(rows: Sequence[dict[str, Any]], resamples: int = RESAMPLES) -> Significance | None:
    """:func:`analyse` the rows and write each row's columns (``report.STAT_FIELDS``) into it."""
    stats = analyse(rows, resamples)
    for row in rows:
        row.update(stats.csv_columns(row) if stats else dict.fromkeys(STAT_FIELDS))
    return stats


# -- resampling -----------------------------------------------------------------------------------
@dataclass
class _Plan:
    weights: np.ndarray  # [R, I] times each test image is drawn
    seed_draws: np.ndarray  # [R, S] indices into ``seeds``
    seeds: list[str]

    def seed_counts(self, seeds: Sequence[str]) -> np.ndarray:
        """[R, len(seeds)]: how often each of these seeds is drawn; a draw with none of them counts
        each once (the series lacks the drawn seeds: its own seeds stand in)."""
        counts = np.stack([(self.seed_draws == self.seeds.index(s)).sum(axis=1) for s in seeds], axis=1)
        counts[counts.sum(axis=1) == 0] = 1
        return counts.astype(float)


def _mean_over_seeds(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """[S, R] per-seed values and [R, S] seed counts -> [R] the resampled seed mean."""
    return (counts * values.T).sum(axis=1) / counts.sum(axis=1)


def _interval(point: float, samples: np.ndarray) -> Interval:
    """The percentile interval; resamples without a value (a class no drawn test image has: COCO
    gives it no AP) are left out."""
    alpha = (1 - CONFIDENCE) / 2
    low, high = np.nanquantile(samples, [alpha, 1 - alpha]) if not np.isnan(samples).all() else (np.nan, np.nan)
    return Interval(float(point), float(low), float(high))


class _Scores:
    """Every run's metrics on every resample, from its kept detections (one computation per file)."""

    def __init__(self, gt_file: str, resamples: int, seeds: list[str]) -> None:
        from ..evaluation import load_coco
        self.coco = load_coco(gt_file)
        self.num_images = len(self.coco.getImgIds())
        rng = np.random.default_rng(BOOTSTRAP_SEED)
        self.plan = _Plan(rng.multinomial(self.num_images, np.full(self.num_images, 1 / self.num_images),
                                          size=resamples),
                          rng.integers(0, len(seeds), size=(resamples, len(seeds))), seeds)
        self._cache: dict[str, tuple[dict[str, float], dict[str, np.ndarray]]] = {}

    def compute(self, files: Sequence[str]) -> None:
        """Score every run up front, with a progress line (seconds per run on a few hundred images)."""
        from ..utils.progress import ProgressBar
        progress = ProgressBar(len(files), desc=f'bootstrap ({len(self.plan.weights)} resamples)', unit='run')
        for detections in files:
            self.of(detections)
            progress.update()
        progress.close()

    def of(self, detections: str) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """(point metrics, {metric: [R] resampled values}) of one detections file."""
        if detections not in self._cache:
            from ..evaluation import ResampledCocoAP
            ap = ResampledCocoAP(self.coco, json.loads(Path(detections).read_text()))
            point = ap.metrics()
            samples = [ap.metrics(w) for w in self.plan.weights]
            keys = [k for k in point if k in METRICS or k.startswith('AP_')]
            self._cache[detections] = point, {k: np.array([s.get(k, np.nan) for s in samples]) for k in keys}
        return self._cache[detections]


# -- the analysis ---------------------------------------------------------------------------------
def has_detections(row: dict[str, Any]) -> bool:
    return bool(row.get('detections')) and Path(str(row['detections'])).is_file() and \
        metric_value(row.get('mAP')) is not None


def analyse(rows: Sequence[dict[str, Any]], resamples: int = RESAMPLES) -> Significance | None:
    """The statistics of a sweep's rows (see the module docstring). A series at an N is analysed when
    every one of its runs kept its detections; ``None`` when none is (a sweep run before they were
    kept: rerunning it re-tests, without retraining)."""
    everything: dict[tuple[Series, int], dict[str, dict[str, Any]]] = {}
    for row in rows:
        everything.setdefault((series_of(row), int(row['num_real'])), {})[str(row['seed'])] = row
    groups = {key: by_seed for key, by_seed in everything.items() if all(map(has_detections, by_seed.values()))}
    skipped = [f'{series_label(series)} N={n}' for series, n in everything if (series, n) not in groups]
    if not groups:
        return None
    usable = [r for by_seed in groups.values() for r in by_seed.values()]
    gt_files = {ground_truth_file(r['test_config']) for r in usable}
    if len(gt_files) > 1:
        raise ValueError(f'the runs were tested on different ground truths ({sorted(gt_files)}): their '
                         'statistics cannot be paired')
    gt_file = gt_files.pop()
    scores = _Scores(gt_file, resamples, sorted({str(r['seed']) for r in usable}, key=_seed_order))
    scores.compute(sorted({str(r['detections']) for r in usable}))
    own = {key: _own(scores, by_seed) for key, by_seed in groups.items()}
    boxes = evaluated_boxes_per_class(scores.coco.dataset)
    comparisons = []
    real_only = (REAL_ONLY, NONE, NONE)
    for (series, n), by_seed in groups.items():
        if series[0] in (REAL_ONLY, CONTROL):
            continue
        for baseline in (REAL_ONLY, CONTROL):
            base = groups.get(((baseline, NONE, NONE), n))
            if base is None or (baseline == CONTROL and _same_runs(base, groups.get((real_only, n)))):
                continue  # the control is real-only's own training: its comparison is the one above
            comparisons.append(_compare(scores, series, n, by_seed, base, baseline,
                                        resolved_classes(own.get((real_only, n), {}), boxes)))
    return Significance(resamples, scores.num_images, own, comparisons, _equivalents(scores, groups), boxes,
                        skipped)


def ground_truth_file(test_config: str) -> str:
    """The ground truth a test config's evaluator scores against."""
    from mmengine.config import Config
    return str(Config.fromfile(test_config).test_evaluator['ann_file'])


def evaluated_boxes_per_class(coco: dict[str, Any]) -> dict[str, int]:
    """Boxes per class (label order) as COCO evaluation counts them: crowd boxes left out."""
    from ..datasets.profile import boxes_per_class, coco_classes
    return dict(zip(coco_classes(coco), boxes_per_class(coco, crowd=False)))


def _seed_order(seed: str) -> tuple:
    return (0, int(seed), '') if seed.lstrip('-').isdigit() else (1, 0, seed)


def _same_runs(a: dict[str, dict], b: dict[str, dict] | None) -> bool:
    return b is not None and {s: r['detections'] for s, r in a.items()} == {s: r['detections'] for s, r in b.items()}


def _stack(scores: _Scores, by_seed: dict[str, dict], seeds: Sequence[str], metric: str) -> tuple[np.ndarray, np.ndarray]:
    """([S] point values, [S, R] resampled values) of one metric over these seeds' runs."""
    runs = [scores.of(str(by_seed[s]['detections'])) for s in seeds]
    return (np.array([p.get(metric, np.nan) for p, _ in runs]),
            np.stack([v.get(metric, np.full(len(scores.plan.weights), np.nan)) for _, v in runs]))


def _own(scores: _Scores, by_seed: dict[str, dict]) -> dict[str, Interval]:
    seeds = sorted(by_seed, key=_seed_order)
    counts = scores.plan.seed_counts(seeds)
    out = {}
    for metric in scores.of(str(by_seed[seeds[0]]['detections']))[1]:
        point, values = _stack(scores, by_seed, seeds, metric)
        if np.isnan(point).any():
            continue
        out[metric] = _interval(point.mean(), _mean_over_seeds(values, counts))
    return out


def resolved_classes(real_only: dict[str, Interval], boxes: dict[str, int]) -> list[str]:
    """The classes the test split resolves (see :data:`MIN_RESOLVED_BOXES`), by real-only's intervals."""
    return [name for name, n in boxes.items() if n >= MIN_RESOLVED_BOXES and f'AP_{name}' in real_only
            and real_only[f'AP_{name}'].half_width <= CLASS_RESOLUTION]


def _compare(scores: _Scores, series: Series, n: int, arm: dict[str, dict], base: dict[str, dict], baseline: str,
             resolved: list[str]) -> Comparison:
    seeds = sorted(set(arm) & set(base), key=_seed_order)
    counts = scores.plan.seed_counts(seeds)
    delta, per_seed = {}, {}
    for metric in scores.of(str(arm[seeds[0]]['detections']))[1]:
        a_point, a_values = _stack(scores, arm, seeds, metric)
        b_point, b_values = _stack(scores, base, seeds, metric)
        d_point, d_values = a_point - b_point, a_values - b_values
        if np.isnan(d_point).any():
            continue
        delta[metric] = _interval(d_point.mean(), _mean_over_seeds(d_values, counts))
        per_seed[metric] = d_point, d_values
    comparison = Comparison(series, baseline, n, len(seeds), delta)
    classes = [m for m in delta if m.startswith('AP_')]
    resolved = [c for c in resolved if f'AP_{c}' in per_seed]
    if resolved and len(resolved) < len(classes):
        d_point = np.mean([per_seed[f'AP_{c}'][0] for c in resolved], axis=0)
        d_values = np.mean([per_seed[f'AP_{c}'][1] for c in resolved], axis=0)
        comparison.resolved = resolved
        comparison.delta_resolved = _interval(d_point.mean(), _mean_over_seeds(d_values, counts))
    if 'mAP' in per_seed:
        comparison.advice = power_advice(delta['mAP'], *per_seed['mAP'], scores.num_images)
    return comparison


def power_advice(delta: Interval, d_point: np.ndarray, d_values: np.ndarray, test_images: int) -> str:
    """When the ΔmAP interval ``delta`` contains 0 but the difference is not 0: what would narrow it
    enough (nothing where the verdict is already a gain or a loss).

    The interval's variance splits into the test images' part (the variance over image resamples of
    the seeds' mean difference, seeds fixed) and the seeds' part (how much the per-seed differences
    spread beyond what image resampling explains, over the number of seeds). More test images shrink
    the first, more seeds the second; the advice names the smallest of each that would put the
    observed difference outside a 95% interval, where either can. It is worded for the report's body
    (the shares as "of the uncertainty"); :func:`method_lines` gives the precise terms."""
    seeds, diff = len(d_point), float(d_point.mean())
    if abs(diff) < 1e-9 or delta.gain or delta.loss:
        return ''
    v_img = float(np.var(d_values.mean(axis=0), ddof=1))
    v_seed = 0.0
    if seeds > 1:
        v_seed = max(0.0, float(np.var(d_point, ddof=1)) - float(np.mean(np.var(d_values, axis=1, ddof=1)))) / seeds
    more_images = _image_factor(v_img, v_seed, abs(diff))
    images = (f'about {more_images:g}x the test images (≈ {more_images * test_images:.0f})' if more_images
              else None)
    if seeds == 1:
        return (f'undecided: with one seed, how much training runs vary is unknown (run more seeds); to tell a '
                f"difference of {diff:+.3f} from noise would take {images or 'more than 100x the test images'}")
    share = v_img / (v_img + v_seed) if v_img + v_seed else 1.0
    more_seeds = next((m for m in range(seeds + 1, 101) if Z * math.sqrt(v_img + v_seed * seeds / m) < abs(diff)),
                      None)
    options = [images] if images else []
    options += [f'{more_seeds} seeds'] if more_seeds else []
    what = ' or '.join(options) if options else 'more of both: neither more test images nor more seeds alone is enough'
    return (f'undecided: the test images carry {share:.0%} of the uncertainty, the training seeds {1 - share:.0%}; '
            f'to tell a difference of {diff:+.3f} from noise would take {what}')


def _image_factor(v_img: float, v_seed: float, target: float) -> float | None:
    """The multiple of the test split (rounded up to 0.1) whose image variance, with the seeds' part
    as it is, puts ``target`` outside the interval; ``None`` when no multiple up to 100x does."""
    room = (target / Z) ** 2 - v_seed
    if room <= 0:
        return None
    k = math.ceil(max(1.0, v_img / room) * 10) / 10
    return k if k <= 100 else None


def _equivalents(scores: _Scores, groups: dict[tuple[Series, int], dict[str, dict]]) -> dict[tuple[Series, int], str]:
    """Each arm's worth in real images, read off the real-only curve on every resample."""
    real = {n: by_seed for (series, n), by_seed in groups.items() if series[0] == REAL_ONLY}
    if len(real) < 2:
        return {}
    plan = scores.plan

    def resampled(by_seed: dict[str, dict]) -> tuple[float, np.ndarray]:
        seeds = sorted(by_seed, key=_seed_order)
        point, values = _stack(scores, by_seed, seeds, 'mAP')
        return float(point.mean()), _mean_over_seeds(values, plan.seed_counts(seeds))
    curve = {n: resampled(by_seed) for n, by_seed in sorted(real.items())}
    ns = sorted(curve)
    out = {}
    for (series, n), by_seed in groups.items():
        if series[0] == REAL_ONLY:
            continue
        point, values = resampled(by_seed)
        at = [equivalent_real_images([(m, curve[m][1][r]) for m in ns], values[r]) for r in range(len(values))]
        samples = np.array([e.value if e.value is not None else (math.inf if e.text.startswith('>') else -math.inf)
                            for e in at])
        alpha = (1 - CONFIDENCE) / 2
        low, high = np.quantile(samples, [alpha, 1 - alpha], method='inverted_cdf')
        centre = equivalent_real_images([(m, curve[m][0]) for m in ns], point).text
        if low == -math.inf and high == math.inf:
            out[series, n] = f'withheld ({centre}; interval spans N {ns[0]}-{ns[-1]})'
        else:
            out[series, n] = f'{centre} [{_side(low, ns)}, {_side(high, ns)}]'
    return out


def _side(value: float, ns: Sequence[int]) -> str:
    if value == -math.inf:
        return f'< {ns[0]}'
    if value == math.inf:
        return f'> {ns[-1]}'
    return f'{value:.0f}'


# -- text -----------------------------------------------------------------------------------------
# The report's body says what these intervals mean in plain words; the precise terms (bootstrap, paired,
# variance, resolved) are in :func:`method_lines` only, for its "How this is computed" section.
def versus_real_only(c: Comparison) -> str:
    """'vs real-only <verdict>', saying what an undecided verdict means."""
    delta = c.delta.get('mAP')
    undecided = delta is not None and not (delta.gain or delta.loss)
    return f"vs real-only {c.verdict}{', which could be noise' if undecided else ''}"


def worth(stats: Significance, c: Comparison) -> str:
    """'; as good as real-only on ≈ 32 [20, 50] real images' beside a measured gain over real-only, else
    nothing: beside no difference or a loss a worth in real images reads as a gain."""
    text = stats.equivalents.get((c.series, c.num_real))
    if not text or 'mAP' not in c.delta or not c.delta['mAP'].gain:
        return ''
    if text.startswith('withheld'):
        return f'; its worth in real images is {text}'
    return f'; as good as real-only on ≈ {text} real images'


def answer_lines(stats: Significance | None) -> list[str]:
    """The sweep's question answered per N from the same intervals as the verdicts: does generated data
    help, and which setting is best. A setting is recommended only when its gain over real-only excludes
    0 and the compute-matched control does not explain it (longer training alone)."""
    if stats is None:
        return []
    lines = []
    for n in sorted({c.num_real for c in stats.comparisons}):
        arms = [c for c in stats.comparisons if c.num_real == n and c.baseline == REAL_ONLY and 'mAP' in c.delta]
        if not arms:
            continue
        gains = [c for c in arms if c.delta['mAP'].gain]
        winners = [c for c in gains if _beats_control(stats, c)]
        best = max(winners or gains or arms, key=lambda c: c.delta['mAP'].point)
        control = stats.comparison(best.series, n, CONTROL)
        if winners:
            headline = f'yes: {series_label(best.series)} is the best setting'
        elif gains:
            headline = (f'{series_label(best.series)} gains over real-only, but not over real-only trained as '
                        'long (compute-matched)')
        elif all(c.delta['mAP'].loss for c in arms):
            headline = f'no: every setting loses; the least harmful is {series_label(best.series)}'
        else:
            headline = f'no measurable help; the highest is {series_label(best.series)}'
        detail = versus_real_only(best)
        if control:
            detail += f'; vs compute-matched {control.verdict}'
        lines.append(f'- **N={n}: {headline}** ({detail}{worth(stats, best)})')
        if best.advice:
            lines.append(f'  - {best.advice}')
    return lines


def _beats_control(stats: Significance, arm: Comparison) -> bool:
    """Whether a generated-data arm also gains over the compute-matched control (True without one)."""
    control = stats.comparison(arm.series, arm.num_real, CONTROL)
    return control is None or ('mAP' in control.delta and control.delta['mAP'].gain)


def verdict_lines(stats: Significance | None) -> list[str]:
    """The report's verdict section: one line per arm and N (vs real-only, vs the control, worth in
    real images beside a gain, over the classes measured precisely enough), advice where undecided, and
    what could not be analysed."""
    if stats is None:
        return ['- no intervals: no series kept the test detections of all its runs (rerun the experiment: its '
                'tests rerun, its trainings are cached)']
    lines = [f'Each generated-data arm against real-only (and against compute-matched where that is a training of '
             f'its own), on the {stats.test_images} test images and the seeds. A gain or a loss is called only when '
             'the whole 95% interval of the difference lies above or below 0; otherwise it reads "no measurable '
             'difference": the difference could be noise.', '']
    for c in stats.comparisons:
        if c.baseline != REAL_ONLY:
            continue
        control = stats.comparison(c.series, c.num_real, CONTROL)
        text = (f"- **{series_label(c.series)}, N={c.num_real}** ({c.seeds} seed{'s' * (c.seeds > 1)}): "
                f'{versus_real_only(c)}; mAP50 {verdict(c.delta.get("mAP50"), "mAP50")}')
        if control:
            text += f'; vs compute-matched {control.verdict}'
        lines.append(text + worth(stats, c))
        if c.delta_resolved is not None:
            which = ', '.join(md_code(x) for x in c.resolved)
            classes = f'the {len(c.resolved)} classes' if len(c.resolved) > 1 else 'the one class'
            lines.append(f'  - over {classes} measured precisely enough to tell ({which}): {verdict(c.delta_resolved)}')
        if c.advice:
            lines.append(f'  - {c.advice}')
    if not any(c.baseline == REAL_ONLY for c in stats.comparisons):
        lines.append('- (needs a real-only arm and a generated-data arm at the same N)')
    if stats.skipped:
        lines.append(f"- not analysed (a run without kept detections: rerun to re-test): {', '.join(stats.skipped)}")
    return lines


def class_table(stats: Significance | None) -> list[str]:
    """Per class and N: test boxes, real-only AP with its interval, whether the class is measured
    precisely enough to tell a change (and why not), and each arm's ΔAP with its interval."""
    if stats is None:
        return []
    lines = []
    for n in sorted({c.num_real for c in stats.comparisons}):
        real = stats.own.get(((REAL_ONLY, NONE, NONE), n), {})
        arms = [c for c in stats.comparisons if c.num_real == n and c.baseline == REAL_ONLY]
        if not real or not arms:
            continue
        resolved = resolved_classes(real, stats.boxes)
        lines += [f'N={n}: a change in a class\'s AP can be told from noise only where the class has enough test '
                  'boxes and a precise real-only AP ("precise enough to tell?").', '',
                  f'| class | test boxes | real-only AP [{INTERVAL}] | precise enough to tell? | '
                  + ' | '.join(f'Δ AP {series_label(c.series)} [95% interval]' for c in arms) + ' |',
                  '|---|---:|---:|---|' + '---:|' * len(arms)]
        for name, boxes in stats.boxes.items():
            interval = real.get(f'AP_{name}')
            if interval is None:
                continue
            if name in resolved:
                precise = 'yes'
            elif boxes < MIN_RESOLVED_BOXES:
                precise = 'no: too few test boxes to tell'
            else:
                precise = f'no: real-only AP too uncertain (interval wider than {2 * CLASS_RESOLUTION:g})'
            deltas = [c.delta[f'AP_{name}'].text() if f'AP_{name}' in c.delta else MISSING for c in arms]
            lines.append(f'| {md_code(name)} | {boxes} | {interval.text(signed=False)} | {precise} | '
                         + ' | '.join(deltas) + ' |')
        lines.append('')
    return lines


def method_lines() -> list[str]:
    """The report's "How this is computed" in this module's precise terms: what the body's plain words
    ("could be noise", "precise enough to tell", "of the uncertainty") stand for."""
    tail = (1 - CONFIDENCE) / 2 * 100
    return [
        f'- **Intervals**: a paired bootstrap with {RESAMPLES:,} resamples. Each resample draws the test images '
        'with replacement and the seeds with replacement, and scores every run on that same draw; AP is recomputed '
        'from the test detections each run kept (no model runs again). An arm\'s interval is the '
        f'{tail:g}th to {100 - tail:g}th percentile of its resampled mean over seeds ("95% interval over test images '
        f'and seeds"); the resamples are drawn from seed {BOOTSTRAP_SEED}, so the same results give the same '
        'intervals.',
        '- **Differences** are paired: both arms are scored on the same resampled test images and compared seed by '
        'seed (a seed\'s runs share their real subset); the interval is the percentile interval of the resampled '
        'mean difference.',
        '- **Verdict**: a gain when the interval of the difference lies above 0, a loss when below, otherwise "no '
        'measurable difference"; the answer, the tables and `results.csv` use this one rule. The answer calls a '
        'setting best only when it gains over real-only and over the compute-matched control (where that is a '
        'training of its own).',
        '- **≈ real images**: the N at which the real-only mAP-vs-N curve reaches the arm\'s mAP, interpolated '
        'linearly in log N on the curve\'s running maximum (outside the measured N only the side is known, e.g. '
        '"> 300"); its interval is read off the resampled curve on every resample, and it is withheld when that '
        'interval spans the whole curve. It needs real-only at two N or more, and is shown beside a gain over '
        'real-only only.',
        f'- **Precise enough to tell** (a class the test split resolves): at least {MIN_RESOLVED_BOXES} test boxes '
        f'and a real-only AP interval at most ±{CLASS_RESOLUTION} wide (with fewer boxes an AP near 0 has a narrow '
        'interval that measures nothing). "Over the classes measured precisely enough" is the mean ΔAP over those '
        'classes, shown where some but not all classes are.',
        '- **What would narrow an undecided interval** ("the test images carry X% of the uncertainty"): the '
        'interval\'s variance splits into the test images\' part (the variance over image resamples of the seeds\' '
        'mean difference, seeds fixed) and the seeds\' part (how much the per-seed differences spread beyond what '
        'image resampling explains, over the number of seeds). More test images shrink the first in proportion, '
        'more seeds the second; the advice names the smallest multiple of the test split (up to 100x) or number '
        f'of seeds (up to 100) that would put the observed difference outside ±{Z:.2f} standard errors (a normal '
        'approximation: the verdict itself is the bootstrap\'s). With one seed the interval holds the test '
        'images\' variation only.',
    ]
