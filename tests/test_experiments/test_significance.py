"""The paired bootstrap and its verdict: calibrated on identical arms, detects a planted gain, and the
csv, the table and the report's text say the same."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmgen_det.experiments import significance
from mmgen_det.experiments.report import aggregate, read_csv, render_report, summary_table, write_csv
from mmgen_det.testing.simulated_detections import detector_output, ground_truth, write_json

SEEDS = (0, 1, 2)


def sweep_rows(tmp: Path, recalls: dict[tuple[str, int], float], case: int = 0, num_images: int = 120,
               seed_spread: float = 0.02) -> list[dict]:
    """Rows of a sweep whose runs' detections come from simulated detectors: ``recalls[arm, N]`` is
    the arm's expected recall; each seed's training varies it by ``seed_spread``."""
    gt = write_json(ground_truth(num_images=num_images, seed=case), tmp / f'case{case}' / 'test.json')
    config = tmp / f'case{case}' / 'test_config.py'
    config.write_text(f'test_evaluator = dict(type="CocoMetric", ann_file={str(gt)!r})\n')
    rows = []
    rng = np.random.default_rng(case)
    for (arm, n), recall in recalls.items():
        for seed in SEEDS:
            run_recall = float(np.clip(recall + rng.normal(0, seed_spread), 0.05, 0.95))
            dets = detector_output(_read(gt), run_recall, seed=int(rng.integers(1 << 30)))
            path = write_json(dets, tmp / f'case{case}' / f'{arm}_{n}_{seed}.bbox.json')
            real = arm in ('real-only', 'compute-matched')
            rows.append(dict(num_real=n, arm=arm, generator='-' if real else 'copy-paste', filter='-' if real else 'none',
                             seed=seed, mAP=0.1, mAP50=0.2, num_synthetic=0 if real else 30 * n, iterations=100,
                             wall_seconds=1.0, test_config=str(config), detections=str(path)))
    return rows


def _read(path: Path) -> dict:
    import json
    return json.loads(path.read_text())


def test_identical_arms_give_intervals_that_contain_zero(tmp_path):
    """Calibration: two arms from the same detector; the 95% interval of their difference must
    contain 0 in at least 90% of the simulated sweeps."""
    cases = 20
    contains = 0
    for case in range(cases):
        rows = sweep_rows(tmp_path, {('real-only', 10): 0.5, ('synthetic-pretrain', 10): 0.5}, case)
        stats = significance.analyse(rows, resamples=200)
        delta = stats.comparison(('synthetic-pretrain', 'copy-paste', 'none'), 10).delta['mAP']
        contains += delta.low <= 0 <= delta.high
    assert contains / cases >= 0.9, f'{contains} of {cases}'


def test_a_planted_gain_is_detected_and_said_the_same_everywhere(tmp_path):
    rows = sweep_rows(tmp_path, {('real-only', 10): 0.35, ('real-only', 100): 0.8,
                                 ('synthetic-pretrain', 10): 0.6, ('mixed', 10): 0.35})
    stats = significance.annotate(rows, resamples=200)
    gain = stats.comparison(('synthetic-pretrain', 'copy-paste', 'none'), 10)
    assert gain.delta['mAP'].low > 0 and gain.verdict.startswith('gain +')
    same = stats.comparison(('mixed', 'copy-paste', 'none'), 10)
    assert same.verdict.startswith('no measurable difference') or same.delta['mAP'].half_width < 0.02

    # the csv, the summary table and the report's verdict section carry the same verdict
    write_csv(rows, tmp_path / 'results.csv')
    back = read_csv(tmp_path / 'results.csv')
    verdicts = {r['verdict'] for r in back if r['arm'] == 'synthetic-pretrain'}
    assert verdicts == {gain.verdict}
    assert {r['verdict'] for r in back if r['arm'] == 'real-only'} == {''}
    table = summary_table(aggregate(back))
    assert f'| {gain.verdict} |' in table
    text = render_report('toy', back, {}, {}, verdict=significance.verdict_lines(stats),
                         classes=significance.class_table(stats))
    assert f'vs real-only {gain.verdict}' in text
    # worth in real images: between N=10 and N=100, with an interval, in the csv and the table alike
    worth = {r['real_images'] for r in back if r['arm'] == 'synthetic-pretrain'}
    assert len(worth) == 1 and '[' in worth.pop()
    assert f"| {back[[r['arm'] for r in back].index('synthetic-pretrain')]['real_images']} |" in table
    assert '| `a` |' in text  # the per-class table


def test_the_answer_names_a_best_setting_only_where_its_gain_is_measured(tmp_path):
    """A gain over real-only and the control: 'yes' and the setting; a gain that training as long
    explains, no difference and losses each get their own answer, never a recommendation."""
    rows = sweep_rows(tmp_path, {('real-only', 10): 0.35, ('compute-matched', 10): 0.35,
                                 ('synthetic-pretrain', 10): 0.75, ('mixed', 10): 0.5,
                                 ('real-only', 20): 0.3, ('compute-matched', 20): 0.75, ('mixed', 20): 0.65,
                                 ('real-only', 30): 0.5, ('compute-matched', 30): 0.5, ('mixed', 30): 0.5,
                                 ('real-only', 40): 0.75, ('compute-matched', 40): 0.75, ('mixed', 40): 0.3,
                                 ('synthetic-pretrain', 40): 0.35})
    stats = significance.annotate(rows, resamples=200)
    answer = significance.answer_lines(stats)
    by_n = {line.split(':')[0].removeprefix('- **N='): line for line in answer if line.startswith('- **N=')}
    best = stats.comparison(('synthetic-pretrain', 'copy-paste', 'none'), 10)
    assert by_n['10'].startswith('- **N=10: yes: synthetic-pretrain (copy-paste, filter none) is the best setting**')
    assert f'vs real-only {best.verdict}' in by_n['10']
    assert 'but not over real-only trained as long' in by_n['20'] and 'yes' not in by_n['20']
    assert 'no measurable help; the highest is mixed' in by_n['30']
    assert 'no: every setting loses; the least harmful is synthetic-pretrain' in by_n['40']
    text = render_report('toy', rows, {}, {}, answer=answer)
    assert text.index('## The answer') < text.index('## Results') and by_n['10'] in text
    assert '## The answer' not in render_report('toy', rows, {}, {})


def test_rows_without_kept_detections_are_named_not_analysed(tmp_path):
    rows = sweep_rows(tmp_path, {('real-only', 10): 0.5, ('synthetic-pretrain', 10): 0.6})
    rows[0]['detections'] = ''
    stats = significance.annotate(rows, resamples=50)
    assert stats.comparisons == [] and stats.skipped == ['real-only N=10']
    assert all(r['verdict'] is None for r in rows)
    assert 'not analysed' in '\n'.join(significance.verdict_lines(stats))
    assert significance.annotate([dict(r, detections='') for r in rows]) is None


def test_the_statistics_are_deterministic(tmp_path):
    rows = sweep_rows(tmp_path, {('real-only', 10): 0.5, ('synthetic-pretrain', 10): 0.55})
    first = significance.analyse(rows, resamples=100)
    again = significance.analyse(rows, resamples=100)
    key = (('synthetic-pretrain', 'copy-paste', 'none'), 10)
    assert first.comparison(*key).delta == again.comparison(*key).delta


@pytest.mark.parametrize('spread, expect', [(0.0, 'test images'), (0.12, 'seeds')])
def test_power_advice_names_what_narrows_the_interval(spread, expect):
    """Per-seed differences that agree: the test images dominate; that scatter widely: the seeds."""
    rng = np.random.default_rng(0)
    base = rng.normal(0.01, 0.015, size=(1, 400))
    d_values = base + rng.normal(0, 0.002, size=(3, 400)) + np.array([[spread], [-spread], [0.0]])
    d_point = d_values.mean(axis=1)
    undecided = significance.Interval(float(d_point.mean()), -0.01, 0.03)
    advice = significance.power_advice(undecided, d_point, d_values, 188)
    assert advice.startswith('undecided')
    # the verdict's bootstrap interval decides, not the normal approximation the advice is sized with
    decided = significance.Interval(float(d_point.mean()), 0.001, 0.03)
    assert significance.power_advice(decided, d_point, d_values, 188) == ''
    shares = advice.split('test images carry ')[1]
    images, seeds = int(shares.split('%')[0]), int(shares.split('seeds ')[1].split('%')[0])
    assert (images > seeds) == (expect == 'test images')
