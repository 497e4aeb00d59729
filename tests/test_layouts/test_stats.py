"""Layout statistics: hand-computed numbers, real-source statistics, the printed table."""
import json

import numpy as np

from mmgen_det.layouts import Layout, LayoutSampler, format_stats, layout_stats, summarize_boxes


def _hand_layouts():
    # 64x64 images: boxes of 16x32 px (short side 2 cells) and 8x8 px (1 cell); one empty redrawn layout
    full = Layout(index=0, width=64, height=64, boxes=[[0, 0, 0.25, 0.5], [0.5, 0.5, 0.625, 0.625]],
                  labels=('fish', 'crab'), source=dict(attempt=0, dropped=dict(cut=1, too_small=0)))
    empty = Layout(index=1, width=64, height=64, boxes=np.zeros((0, 4)), labels=(),
                   source=dict(attempt=2, dropped=dict(cut=0, too_small=3)))
    return [full, empty]


def test_layout_stats_hand_case():
    stats = layout_stats(_hand_layouts())
    json.dumps(stats)
    assert stats['num_images'] == 2 and stats['num_boxes'] == 2
    assert stats['boxes_per_image'] == dict(mean=1.0, min=0, max=2, hist={0: 1, 2: 1})
    assert stats['short_side_px']['p50'] == 12.0  # median of 16 and 8
    assert stats['short_side_cells']['p50'] == 1.5
    assert stats['frac_under_min_cells'] == 0.5  # the 8 px box
    assert stats['per_class'] == {'crab': 1, 'fish': 1}
    assert stats['dropped'] == {'cut': 1, 'too_small': 3}
    assert stats['redraws'] == 2


def test_summarize_nothing():
    stats = summarize_boxes([], [], name='none')
    assert stats['num_boxes'] == 0 and stats['short_side_px']['p50'] is None
    assert 'none' in format_stats(stats)


def test_source_stats_at_the_generated_scale():
    coco = dict(images=[dict(id=1, file_name='a.jpg', width=200, height=100)],
                annotations=[dict(id=1, image_id=1, category_id=0, bbox=[10, 10, 20, 10], iscrowd=0),
                             dict(id=2, image_id=1, category_id=0, bbox=[50, 50, 0, 10], iscrowd=0)],
                categories=[dict(id=0, name='fish')])
    # crop: the 100x100 window becomes 64x64, a 0.64x zoom-out: the box is 12.8x6.4 px
    crop = LayoutSampler(coco, width=64, height=64).source_stats()
    assert crop['name'] == 'real' and crop['short_side_px']['p50'] == 6.4
    assert crop['dropped'] == {'zero_area': 1}
    # stretch: x 0.32, y 0.64: the box is 6.4x6.4 px
    stretch = LayoutSampler(coco, width=64, height=64, aspect='stretch').source_stats()
    assert stretch['short_side_px']['p95'] == 6.4


def test_format_stats_puts_sources_side_by_side():
    real = summarize_boxes([np.array([[8.0, 8.0]])], [('fish',)], name='real', dropped={'zero_area': 1})
    text = format_stats(real, layout_stats(_hand_layouts(), name='zoom 2'))
    lines = text.splitlines()
    assert lines[0].split() == ['real', 'zoom', '2']
    assert 'frac under min cells' in text
    assert next(line for line in lines if line.startswith('dropped: too_small')).split()[-2:] == ['0', '3']
    assert next(line for line in lines if line.startswith('class crab')).split()[-2:] == ['0', '1']
