"""The report is read right the first time by someone who is no statistician: the answer first, a worth
in real images only beside a measured gain, one kind of uncertainty per table and named in its header,
the plot's error bars and the compute-matched control said for what they are, plain words in the body
and the precise terms in "How this is computed" only, and the HTML page saying what the markdown says.

The statistics are made by hand (the bootstrap is tested in test_significance.py): only the text is
tested here.
"""
from __future__ import annotations

import html
import re

import numpy as np

from mmgen_det.experiments import significance
from mmgen_det.experiments.report import (STAT_FIELDS, aggregate, error_bars_text, map_vs_n_figure, render_report,
                                          summary_table)
from mmgen_det.experiments.report_html import render_page
from mmgen_det.experiments.significance import Comparison, Interval, Significance

REAL, CONTROL = ('real-only', '-', '-'), ('compute-matched', '-', '-')
PRETRAIN, MIXED = ('synthetic-pretrain', 'copy-paste', 'none'), ('mixed', 'copy-paste', 'none')
#: the statistician's words: in "How this is computed", never in the body
JARGON = ('bootstrap', 'paired', 'resampl', 'variance', 'resolve', 'percentile')
CONTROL_SAME = 'compute-matched (real-only trained as long as the generated-data runs; here the same runs as real-only)'
ANSWER_GAIN = ('- **N=10: yes: synthetic-pretrain (copy-paste, filter none) is the best setting** (vs real-only gain '
               '+0.050 mAP [+0.020, +0.080]; as good as real-only on ≈ 32 [20, 50] real images)')


def undecided_advice(seeds: int) -> str:
    """What ``power_advice`` says of an undecided difference over ``seeds`` seeds and 63 test images."""
    rng = np.random.default_rng(0)
    d_values = rng.normal(0.01, 0.015, size=(1, 400)) + rng.normal(0, 0.01, size=(seeds, 400))
    d_point = d_values.mean(axis=1)
    return significance.power_advice(Interval(float(d_point.mean()), -0.01, 0.03), d_point, d_values, 63)


def sweep() -> tuple[Significance, list[dict]]:
    """N=10, 3 seeds: pretraining gains, mixing makes no measurable difference (and is undecided), both
    with a worth in real images; compute-matched is real-only's own training (the same checkpoints)."""
    classes = {'AP_a': Interval(0.01, -0.01, 0.03), 'AP_b': Interval(0.02, -0.2, 0.2)}
    gain = Comparison(PRETRAIN, 'real-only', 10, 3, {'mAP': Interval(0.050, 0.020, 0.080),
                                                     'mAP50': Interval(0.060, 0.010, 0.110), **classes})
    noise = Comparison(MIXED, 'real-only', 10, 3, {'mAP': Interval(0.010, -0.020, 0.040),
                                                   'mAP50': Interval(0.0, -0.050, 0.050), **classes},
                       resolved=['a'], delta_resolved=Interval(0.01, -0.01, 0.03), advice=undecided_advice(3))
    real = {'mAP': Interval(0.100, 0.080, 0.120), 'AP_a': Interval(0.2, 0.17, 0.23), 'AP_b': Interval(0.1, 0.0, 0.3)}
    own = {(REAL, 10): real, (CONTROL, 10): real, (PRETRAIN, 10): {'mAP': Interval(0.150, 0.120, 0.180)},
           (MIXED, 10): {'mAP': Interval(0.110, 0.085, 0.135)}}
    stats = Significance(1000, 63, own, [gain, noise], {(PRETRAIN, 10): '32 [20, 50]', (MIXED, 10): '58 [39, 122]'},
                         {'a': 120, 'b': 4})
    rows = []
    for (arm, gen, filt), maps in ((REAL, (0.09, 0.10, 0.11)), (PRETRAIN, (0.14, 0.15, 0.16)),
                                   (MIXED, (0.10, 0.11, 0.12)), (CONTROL, (0.09, 0.10, 0.11))):
        for seed, value in enumerate(maps):
            trained = 'real-only' if arm == 'compute-matched' else arm
            row = dict(num_real=10, arm=arm, generator=gen, filter=filt, seed=seed, mAP=value, mAP50=2 * value,
                       num_synthetic=0 if gen == '-' else 300, iterations=100, wall_seconds=10.0,
                       checkpoint=f'{trained}_s{seed}.pth')
            rows.append(dict(row, **stats.csv_columns(row)))
    return stats, rows


def report_of(stats: Significance, rows: list[dict]) -> str:
    return render_report('toy', rows, {}, {'mAP vs N': 'map_vs_n.png'}, verdict=significance.verdict_lines(stats),
                         classes=significance.class_table(stats), answer=significance.answer_lines(stats))


def test_the_answer_comes_first_in_one_line_with_its_interval():
    stats, rows = sweep()
    text = report_of(stats, rows)
    assert re.findall(r'^## .*', text, re.M)[0] == '## The answer'
    assert text.split('## The answer\n\n')[1].splitlines()[0] == ANSWER_GAIN
    stats.comparisons.pop(0)  # without the gain: no setting helped, said with the interval
    assert significance.answer_lines(stats)[0] == (
        '- **N=10: no measurable help; the highest is mixed (copy-paste, filter none)** (vs real-only no measurable '
        'difference [-0.020, +0.040], which could be noise)')


def test_a_worth_in_real_images_stands_only_beside_a_measured_gain():
    stats, rows = sweep()
    verdicts = significance.verdict_lines(stats)
    mixed = [line for line in verdicts if line.startswith('- **mixed')]
    assert mixed and 'real images' not in mixed[0] and '58' not in mixed[0]
    assert any(line.startswith('- **synthetic-pretrain') and line.endswith('as good as real-only on ≈ 32 [20, 50] '
                                                                          'real images') for line in verdicts)
    table = summary_table(aggregate(rows))
    assert '| gain +0.050 mAP [+0.020, +0.080] | 32 [20, 50] |' in table
    assert '| no measurable difference [-0.020, +0.040] | - |' in table and '58' not in table
    stats.equivalents[PRETRAIN, 10] = 'withheld (32; interval spans N 10-100)'
    assert significance.answer_lines(stats)[0].endswith('; its worth in real images is withheld (32; interval '
                                                        'spans N 10-100))')
    stats.comparisons.pop(0)  # the answer then names mixed: no worth beside it either
    assert 'real images' not in '\n'.join(significance.answer_lines(stats))


def test_each_table_names_its_one_kind_of_uncertainty_in_its_header():
    stats, rows = sweep()
    tables = re.findall(r'(?:^\|.*\n)+', report_of(stats, rows), re.M)
    assert len(tables) == 2  # the results and the per-class table
    for table in tables:
        assert '95% interval over test images and seeds' in table.splitlines()[0]
        assert '±' not in table and 'std' not in table
    # a sweep that kept no detections has no interval: its one uncertainty is the spread over seeds
    plain = summary_table(aggregate([{k: v for k, v in r.items() if k not in STAT_FIELDS} for r in rows]))
    assert '| mAP (mean over seeds ± standard deviation) |' in plain.splitlines()[0]
    assert 'interval' not in plain and '| 0.150 ± 0.010 |' in plain


def test_the_plot_caption_says_what_its_error_bars_are():
    stats, rows = sweep()
    text = report_of(stats, rows)
    caption = text.split('![mAP vs N](map_vs_n.png)\n')[1].splitlines()[0]
    assert caption == ('*mAP on the test split at N=10, each bar the mean over seeds; error bars: from the lowest '
                       'to the highest seed (3 seeds), not the 95% intervals of the tables; dots: single seeds. '
                       f'{CONTROL_SAME}: the hatched bar.*')
    fig = map_vs_n_figure(rows)
    assert error_bars_text(rows) in [t.get_text() for t in fig.texts]  # the image says it too
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_the_compute_matched_control_says_what_it_is_and_is_not_hidden_behind_real_only():
    import matplotlib.pyplot as plt
    _, rows = sweep()
    assert f'| 10 | {CONTROL_SAME} | - | - | 3 | 0.100 [0.080, 0.120] |' in summary_table(aggregate(rows))
    trained = [dict(r, checkpoint=f"matched_s{r['seed']}.pth") if r['arm'] == 'compute-matched' else r for r in rows]
    assert '| compute-matched (real-only trained as long as the generated-data runs) |' in \
        summary_table(aggregate(trained))
    # several N: the control (equal to real-only) dashed, hollow squares, just right of real-only's points
    fig = map_vs_n_figure(rows + [dict(r, num_real=100) for r in rows])
    lines = {' '.join(c.get_label().split()): c.lines[0] for c in fig.axes[0].containers}
    control, real = lines[CONTROL_SAME], lines['real-only']
    assert list(control.get_ydata()) == list(real.get_ydata())
    assert all(x > r for x, r in zip(control.get_xdata(), real.get_xdata()))
    assert (control.get_marker(), control.get_markerfacecolor(), control.get_linestyle()) == ('s', 'none', '--')
    plt.close(fig)
    text = render_report('toy', rows + [dict(r, num_real=100) for r in rows], {}, {'mAP vs N': 'map_vs_n.png'})
    assert f'{CONTROL_SAME}: dashed, with hollow squares, drawn just right of its N' in text


def test_the_body_is_in_plain_words_and_the_precise_terms_are_in_how_this_is_computed():
    stats, rows = sweep()
    body, method = report_of(stats, rows).split('## How this is computed')
    method = method.split('## Settings')[0]
    for word in JARGON:
        assert word not in body.lower(), word
        assert word in method.lower(), word
    assert 'the test images carry' in body and 'of the uncertainty, the training seeds' in body  # the advice
    assert 'which could be noise' in body and 'could be noise' in body.split('## Is the difference real?')[1]
    assert '| `b` | 4 | 0.100 [0.000, 0.300] | no: too few test boxes to tell |' in body
    assert 'over the one class measured precisely enough to tell (`a`)' in body
    one_seed = undecided_advice(1)
    assert one_seed.startswith('undecided: with one seed') and not any(w in one_seed for w in JARGON)


def test_the_html_page_says_what_the_markdown_says():
    stats, rows = sweep()
    text = report_of(stats, rows)
    page = html.unescape(re.sub(r'<[^>]+>', '', render_page('toy', text, [])))
    headers = [table.splitlines()[0] for table in re.findall(r'(?:^\|.*\n)+', text, re.M)]
    caption = text.split('(map_vs_n.png)\n*')[1].split('*\n')[0]
    pieces = [ANSWER_GAIN.replace('**', '')[2:], caption, 'How this is computed',
              *[cell.strip() for header in headers for cell in header.split('|')[1:-1]]]
    for piece in pieces:
        assert piece in page, piece
