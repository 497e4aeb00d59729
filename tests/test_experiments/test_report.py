"""Pure maths and text of the report: equivalent N, aggregation, csv/markdown/plot."""
from __future__ import annotations

import math

import pytest

from mmgen_det.experiments.report import (Equivalent, aggregate, equivalent_real_images, metric_columns,
                                          map_vs_n_figure, plot_map_vs_n, read_csv, render_report, summary_table, write_csv)

CURVE = [(10, 0.10), (100, 0.30), (1000, 0.40)]


@pytest.mark.parametrize('value, expected', [
    (0.10, Equivalent(10.0, '10')),
    (0.30, Equivalent(100.0, '100')),
    (0.20, Equivalent(math.sqrt(10 * 100), '32')),  # halfway in log N, not in N
    (0.45, Equivalent(None, '> 1000')),
    (0.05, Equivalent(None, '< 10')),
])
def test_equivalent_real_images_interpolates_in_log_n(value, expected):
    got = equivalent_real_images(CURVE, value)
    assert got.text == expected.text
    assert (got.value is None) == (expected.value is None)
    if expected.value is not None:
        assert got.value == pytest.approx(expected.value)


def test_equivalent_real_images_uses_running_max_of_a_noisy_curve():
    # the dip at N=50 must not create a second crossing: the envelope is 0.2 up to N=50, 0.3 at 100
    curve = [(10, 0.2), (50, 0.15), (100, 0.3)]
    got = equivalent_real_images(curve, 0.25)
    assert got.value == pytest.approx(math.sqrt(50 * 100))
    assert equivalent_real_images(curve, 0.18).text == '< 10'
    assert equivalent_real_images([], 0.1).value is None
    assert equivalent_real_images([(2, 0.0), (4, 0.0)], 0.0).text == 'n/a'


def test_metric_columns_maps_coco_keys_and_per_class_ap():
    cols = metric_columns({'coco/bbox_mAP': 0.2, 'coco/bbox_mAP_50': 0.4, 'coco/0_precision': 0.3,
                           'coco/bbox_mAP_copypaste': '0.2 ...'})
    assert cols == {'mAP': 0.2, 'mAP50': 0.4, 'mAP75': 0.0, 'mAP_s': 0.0, 'mAP_m': 0.0, 'mAP_l': 0.0, 'AP_0': 0.3,
                    'metrics_computed': True}
    # no detection at all: CocoMetric returns nothing; the 0 is flagged, never passed off as measured
    assert metric_columns({}) == dict.fromkeys(['mAP', 'mAP50', 'mAP75', 'mAP_s', 'mAP_m', 'mAP_l'], 0.0) | {
        'metrics_computed': False}


def test_summary_flags_runs_without_detections():
    rows = [dict(num_real=4, arm='real-only', generator='-', filter='-', seed=s, mAP=0.0, mAP50=0.0,
                 num_synthetic=0, iterations=2, wall_seconds=1, metrics_computed=str(s == 0)) for s in (0, 1)]
    table = summary_table(aggregate(rows))
    assert '(1 without a detection)' in table


def rows():
    out = []
    for n, real, syn in ((10, (0.10, 0.12), (0.20, 0.22)), (100, (0.30, 0.32), (0.35, 0.37))):
        for seed, (r, s) in enumerate(zip(real, syn)):
            common = dict(num_real=n, seed=seed, mAP50=2 * r, wall_seconds=10.0, iterations=100, AP_0=r)
            out.append(dict(common, arm='real-only', generator='-', filter='-', mAP=r, num_synthetic=0))
            out.append(dict(common, arm='synthetic-pretrain', generator='copy-paste', filter='none', mAP=s,
                            num_synthetic=30 * n))
    return out


def test_aggregate_mean_std_over_seeds():
    summary = aggregate(rows())
    assert [(s['series'][0], s['num_real']) for s in summary] == [
        ('real-only', 10), ('synthetic-pretrain', 10), ('real-only', 100), ('synthetic-pretrain', 100)]
    assert summary[0]['mAP'] == pytest.approx(0.11) and summary[0]['seeds'] == 2
    assert summary[0]['mAP_std'] == pytest.approx(math.sqrt(2) * 0.01)
    assert summary[1]['mAP_min'] == 0.20 and summary[1]['mAP_max'] == 0.22


def test_csv_report_and_plot(tmp_path):
    data = rows()
    write_csv(data, tmp_path / 'results.csv')
    back = read_csv(tmp_path / 'results.csv')
    assert len(back) == len(data) and back[0]['arm'] == 'real-only' and 'AP_0' in back[0]
    text = render_report('toy', data, dict(seeds=[0, 1]), {'mAP vs N': 'map_vs_n.png'})
    # synthetic at N=10 (0.21) lies between real-only N=10 (0.11) and N=100 (0.31)
    assert 'synthetic-pretrain (copy-paste, filter none), N=10: mAP 0.210 is worth 32 real images' in text
    assert '> 100' in text  # synthetic at N=100 beats every real-only point
    assert '![mAP vs N](map_vs_n.png)' in text and '"seeds"' in text
    png = plot_map_vs_n(data, tmp_path / 'map_vs_n.png')
    assert png.stat().st_size > 1000


def test_map_vs_n_figure_draws_every_arm_with_the_control_dashed():
    import matplotlib.pyplot as plt
    data = rows() + [dict(r, arm='compute-matched') for r in rows() if r['arm'] == 'real-only']
    fig = map_vs_n_figure(data)
    ax = fig.axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert {'real-only', 'compute-matched'} <= set(labels) and any('synthetic-pretrain' in s for s in labels)
    styles = {c.get_label(): c.lines[0].get_linestyle() for c in ax.containers}
    assert styles['compute-matched'] == '--' and styles['real-only'] == '-'
    assert ax.get_xscale() == 'log'
    plt.close(fig)


def test_map_vs_n_figure_of_one_n_is_a_bar_per_arm_and_says_so():
    import matplotlib.pyplot as plt
    data = [r for r in rows() if int(r['num_real']) == 10]
    fig = map_vs_n_figure(data)
    ax = fig.axes[0]
    assert 'one N (10 real images)' in ax.get_title()
    assert len(ax.patches) == len({(r['arm'], r.get('generator'), r.get('filter')) for r in data})
    assert ax.get_xscale() == 'linear'
    plt.close(fig)
