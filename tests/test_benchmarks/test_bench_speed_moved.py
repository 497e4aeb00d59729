"""Speeds the unit tests no longer bound (a wall-clock assertion fails whenever the machine is busy) are
measured by benchmarks instead: the quick mode of the layout and copy-paste one runs and reports them."""
from __future__ import annotations

import json

from helpers import run_tool


def test_layouts_copy_paste_quick_reports_every_speed(tmp_path):
    out = tmp_path / 'layouts_copy_paste.json'
    run_tool(['benchmarks/bench_layouts_copy_paste.py', '--quick', '--out', str(out)], timeout=300)
    res = json.loads(out.read_text())
    m = res['measurements']
    assert m['layouts_jitter']['ms_per_layout'] > 0 and m['layouts_fit']['ms_per_layout'] > 0
    assert m['copy_paste_512x512']['ms_per_image'] > 0 and m['copy_paste_360x200']['ms_per_image'] > 0
    assert [r['met'] is None for r in res['rows']] == [False, False, True, True]  # targets: layouts only
    assert res['machine']['cores'] and res['versions']['numpy']
