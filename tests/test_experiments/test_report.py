"""Pure maths and text of the report: equivalent N, aggregation, csv/markdown/plot."""
from __future__ import annotations

import math

import pytest

from mmgen_det.experiments.report import (Equivalent, aggregate, boxes_per_class_line, curve_warning, data_section,
                                          equivalent_real_images, map_vs_n_figure, md_code, metric_columns,
                                          plot_map_vs_n, read_csv, render_report, summary_table, write_csv)

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


def test_a_real_only_curve_that_falls_with_n_is_flagged():
    assert curve_warning(CURVE) is None and curve_warning([]) is None
    warning = curve_warning([(10, 0.072), (50, 0.017), (300, 0.2)])
    assert 'falls as N grows' in warning and 'N=50: 0.017 < N=10: 0.072' in warning and 'N=300' not in warning


def test_data_section_lists_the_test_boxes_per_class():
    assert boxes_per_class_line({'a': 200, 'b': 3, 'd': 0}) == ['- test boxes per class: `a` 200, `b` 3, `d` 0']
    assert boxes_per_class_line({}) == []
    section = data_section({'classes': ['a', 'b'], 'num_images': {'test': 5}}, {}, {'a': 30, 'b': 2})
    assert '- test boxes per class: `a` 30, `b` 2' in section


def test_metric_columns_maps_coco_keys_and_per_class_ap():
    cols = metric_columns({'coco/bbox_mAP': 0.2, 'coco/bbox_mAP_50': 0.4, 'coco/0_precision': 0.3,
                           'coco/bbox_mAP_copypaste': '0.2 ...'})
    assert cols == {'mAP': 0.2, 'mAP50': 0.4, 'mAP75': None, 'mAP_s': None, 'mAP_m': None, 'mAP_l': None,
                    'AP_0': 0.3, 'metrics_computed': True}
    # no detection at all: CocoMetric returns nothing; every metric is missing, never a 0
    assert metric_columns({}) == dict.fromkeys(['mAP', 'mAP50', 'mAP75', 'mAP_s', 'mAP_m', 'mAP_l']) | {
        'metrics_computed': False}


def run_without_detections(seed: int, arm: str = 'real-only', n: int = 4) -> dict:
    """A row as the runner writes it when neither validation nor test produced metrics."""
    return dict(num_real=n, arm=arm, generator='-', filter='-', seed=seed, **metric_columns({}), num_synthetic=0,
                iterations=2, wall_seconds=1, val_mAP=None, val_metrics_computed=False, backbone_init='scratch')


def test_missing_metrics_stay_missing_through_csv_tables_and_plot(tmp_path):
    measured = dict(run_without_detections(0), **metric_columns({'coco/bbox_mAP': 0.2, 'coco/bbox_mAP_50': 0.4}),
                    val_mAP=0.25, val_metrics_computed=True)
    data = [measured, run_without_detections(1), run_without_detections(0, 'mixed')]
    write_csv(data, tmp_path / 'results.csv')
    back = read_csv(tmp_path / 'results.csv')
    assert [(r['mAP'], r['metrics_computed'], r['val_mAP'], r['val_metrics_computed']) for r in back] == [
        ('0.2', 'True', '0.25', 'True'), ('', 'False', '', 'False'), ('', 'False', '', 'False')]
    for rows_ in (data, back):
        summary = aggregate(rows_)
        assert summary[0]['mAP'] == pytest.approx(0.2) and summary[0]['missing'] == 1  # the measured seed only
        assert summary[1]['mAP'] is None and summary[1]['missing'] == 1
        table = summary_table(summary)
        assert '| 0.200 ± 0.000 (no metrics for 1 of 2 seeds: no detection) |' in table
        assert '| mixed | - | - | 1 | n/a (no metrics for 1 of 1 seeds: no detection) | n/a |' in table
        assert '0.000' not in table.split('mixed')[1]
    png = plot_map_vs_n(back, tmp_path / 'map_vs_n.png')
    assert png.stat().st_size > 1000
    text = render_report('toy', back, {}, {})
    assert ('- no validation produced metrics (no detection) in 2 of 3 runs, so their last checkpoint was tested: '
            'real-only N=4 seed 1, mixed N=4 seed 0') in text
    assert 'no validation produced metrics' not in render_report('toy', back[:1], {}, {})


def test_backbone_init_column_and_report_line(tmp_path):
    data = [dict(r, backbone_init='scratch') for r in rows()]
    data[-1]['backbone_init'] = 'checkpoints/resnet50_imagenet.pth (sha256 0123456789ab)'
    write_csv(data, tmp_path / 'results.csv')
    assert [r['backbone_init'] for r in read_csv(tmp_path / 'results.csv')] == [r['backbone_init'] for r in data]
    text = render_report('toy', data, {}, {})
    assert f'- backbone initialisation: `scratch` ({len(data) - 1} of {len(data)} runs: real-only, synthetic-pretrain' \
        in text
    assert ('- backbone initialisation: `checkpoints/resnet50_imagenet.pth (sha256 0123456789ab)` (1 of 8 runs: '
            'synthetic-pretrain (copy-paste, filter none))') in text
    same = render_report('toy', [dict(r, backbone_init='scratch') for r in rows()], {}, {})
    assert f'- backbone initialisation: `scratch` (all {len(data)} runs)' in same


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
    # rows without kept detections have no interval and no verdict: the table's one uncertainty is then the
    # spread over seeds, and no worth in real images stands where no gain was measured
    assert '| mAP (mean over seeds ± standard deviation) | mAP50 | generated images kept |' in text
    assert '| 10 | synthetic-pretrain | copy-paste | none | 2 | 0.210 ± 0.014 | 0.220 | 300 | 100 | 10 |' in text
    assert 'real images [' not in text and '(no interval)' not in text
    assert '![mAP vs N](map_vs_n.png)\n*mAP on the test split against the number of real training images N' in text
    assert '"seeds"' in text
    png = plot_map_vs_n(data, tmp_path / 'map_vs_n.png')
    assert png.stat().st_size > 1000


def test_map_vs_n_figure_draws_every_arm_with_the_control_dashed():
    import matplotlib.pyplot as plt
    data = rows() + [dict(r, arm='compute-matched') for r in rows() if r['arm'] == 'real-only']
    fig = map_vs_n_figure(data)
    ax = fig.axes[0]
    labels = [' '.join(label.split()) for label in ax.get_legend_handles_labels()[1]]
    control = 'compute-matched (real-only trained as long as the generated-data runs)'
    assert {'real-only', control} <= set(labels) and any('synthetic-pretrain' in s for s in labels)
    styles = {' '.join(c.get_label().split()): c.lines[0].get_linestyle() for c in ax.containers}
    assert styles[control] == '--' and styles['real-only'] == '-'
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


def test_hostile_class_names_stay_one_inert_cell_in_the_report_and_its_page():
    from mmgen_det.experiments.report_html import markdown_to_html
    names = ['a|b', 'x`y', '</script><img src=x onerror=alert(1)>', 'two\nlines', '**bold**']
    section = data_section({'classes': names, 'num_images': {'test': 5}}, {}, dict.fromkeys(names, 3))
    page = markdown_to_html('\n'.join(section))
    assert '<img' not in page and '<script' not in page.lower()
    assert '&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;' in page and '<strong>' not in page
    table = markdown_to_html('| class | boxes |\n|---|---|\n' + ''.join(f'| {md_code(n)} | 3 |\n' for n in names))
    assert table.count('<td>3</td>') == len(names)  # one row of two cells each: no name split a cell
    assert '<code>a|b</code>' in table and '<code>x`y</code>' in table
