"""The gallery page in a real headless Chromium: it loads without console errors, its threshold control
keeps exactly the images the keep rule (``set_format.kept_ids``) keeps for the filter_cfg it prints
(and ``SyntheticDetDataset`` keeps what ``kept_ids`` keeps, checked without a browser), it sorts, and
it draws the filter detector's stored detections. Screenshots are left in
work_dirs/test_artifacts/ (gallery.png, gallery_classes.png, gallery_detections.png).

Chromium comes from the distribution (``make browser``); without it the test skips and says so.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from gallery_sets import DETECTED, FEATURE_KEY, KEY_A, KEY_B, NUM_IMAGES
from helpers import REPO, run_tool

from mmgen_det.datasets.synthetic_dataset import SyntheticDetDataset
from mmgen_det.generation.set_format import ANNOTATIONS, kept_ids, read_annotations
from mmgen_det.testing.browser import find_chromium, headless_chromium

CLASSES = ('0', '1', '2', '5', '6', '7', '8')
ARTIFACTS = REPO / 'work_dirs' / 'test_artifacts'


@pytest.fixture(scope='module')
def browser():
    pytest.importorskip('selenium', reason='selenium is not installed (requirements/tests.txt)')
    try:
        find_chromium()
    except RuntimeError as e:
        pytest.skip(str(e))
    with headless_chromium() as driver:
        yield driver


@pytest.fixture(scope='module')
def page(scored_set, tmp_path_factory, browser):
    out = tmp_path_factory.mktemp('gallery_page') / 'html'
    run_tool(['tools/browse_synthetic.py', str(scored_set), '--html', str(out)], timeout=300)
    browser.get((out / 'index.html').as_uri())
    return browser


def console_errors(driver) -> list[dict]:
    return [e for e in driver.get_log('browser') if e['level'] == 'SEVERE']


def set_threshold(driver, name: str, value: str | None) -> None:
    """Type ``value`` into a threshold's number field (None: switch the threshold off)."""
    on = driver.find_element('id', f'{name}-on')
    if value is None:
        if on.is_selected():
            on.click()
        return
    field = driver.find_element('id', name)
    field.clear()
    field.send_keys(value)
    assert on.is_selected()


def choose(driver, select_id: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select
    Select(driver.find_element('id', select_id)).select_by_value(value)


def parse_filter_cfg(filter_cfg_line: str) -> dict:
    """The dict of the page's ``filter_cfg=dict(...)`` line."""
    call = ast.parse(filter_cfg_line.split('=', 1)[1], mode='eval').body
    assert isinstance(call, ast.Call) and call.func.id == 'dict' and not call.args
    return {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}


def kept_by_rule(set_dir: Path, filter_cfg: dict) -> list[int]:
    return sorted(kept_ids(read_annotations(set_dir / ANNOTATIONS), filter_cfg))


def kept_by_dataset(set_dir: Path, filter_cfg: dict) -> list[int]:
    ds = SyntheticDetDataset(data_root=f'{set_dir}/', ann_file=ANNOTATIONS, data_prefix=dict(img=''),
                             metainfo=dict(classes=CLASSES), filter_cfg=filter_cfg, pipeline=[])
    return sorted(ds.get_data_info(i)['img_id'] for i in range(len(ds)))


# (min precision, min recall, PR key, max distance, filter_empty_gt); values typed as a user would,
# several on a stored score exactly (kept: thresholds are inclusive) or one float step beside it
SETTINGS = [('0.3', None, KEY_A, None, True),
            ('0.30000000000000004', None, KEY_A, None, True),
            ('0.5', '0.5', KEY_B, None, False),
            (None, '0.25', KEY_A, '1.5', True),
            ('0.75', '0.6', KEY_A, '3', False)]


def test_threshold_control_keeps_what_the_rule_keeps(page, scored_set):
    assert page.title.endswith('gallery') and not console_errors(page)
    kept_counts = set()
    for min_p, min_r, key, max_d, empty in SETTINGS:
        choose(page, 'pr-key', key)
        set_threshold(page, 'min-precision', min_p)
        set_threshold(page, 'min-recall', min_r)
        set_threshold(page, 'max-feature-distance', max_d)
        if page.find_element('id', 'filter-empty-gt').is_selected() != empty:
            page.find_element('id', 'filter-empty-gt').click()
        line = page.find_element('id', 'filter-cfg').text
        expected = kept_by_rule(scored_set, parse_filter_cfg(line))
        count = int(page.find_element('id', 'kept-images').get_attribute('data-count'))
        assert count == len(expected), (line, count, expected)
        assert page.find_element('id', 'kept-images').text == f'{len(expected)} of {NUM_IMAGES}'
        assert sorted(page.execute_script('return gallery.keptIds()')) == expected, line
        if min_p is not None:
            assert f'min_precision={min_p}' in line and f"pr_key='{key}'" in line
        if max_d is not None:
            assert f"max_feature_distance={max_d}, feature_key='{FEATURE_KEY}'" in line
        # dropped cards are greyed out
        cards = page.find_elements('css selector', '#grid .card')
        greyed = {int(c.get_attribute('data-id')) for c in cards if 'dropped' in c.get_attribute('class')}
        assert greyed == set(range(NUM_IMAGES)) - set(expected)
        kept_counts.add(count)
    assert len(kept_counts) >= 3  # the settings really differ
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.save_screenshot(str(ARTIFACTS / 'gallery.png'))
    assert not console_errors(page)


@pytest.mark.parametrize('min_p, min_r, key, max_d, empty', SETTINGS)
def test_the_dataset_keeps_what_the_rule_keeps(scored_set, min_p, min_r, key, max_d, empty):
    """The other half of the page test's claim, without a browser."""
    thresholds = dict(min_precision=min_p, min_recall=min_r, max_feature_distance=max_d)
    cfg = dict(filter_empty_gt=empty, pr_key=key, feature_key=FEATURE_KEY,
               **{k: float(v) for k, v in thresholds.items() if v is not None})
    assert kept_by_dataset(scored_set, cfg) == kept_by_rule(scored_set, cfg)


def test_sorting_and_views(page, scored_set):
    coco = json.loads((scored_set / 'annotations.json').read_text())
    precision = {im['id']: im['pr_filter'][KEY_A]['precision'] for im in coco['images']}
    distance = {im['id']: im['feature_distance'][FEATURE_KEY]['distance'] for im in coco['images']}
    choose(page, 'pr-key', KEY_A)
    choose(page, 'show', 'all')
    choose(page, 'sort', 'p')
    if not page.find_element('id', 'descending').is_selected():
        page.find_element('id', 'descending').click()
    shown = [int(c.get_attribute('data-id')) for c in page.find_elements('css selector', '#grid .card')]
    assert shown == sorted(precision, key=lambda i: (-precision[i], i))
    page.find_element('id', 'descending').click()
    choose(page, 'sort', 'd')  # ascending; the image without a distance goes last
    shown = page.execute_script('return gallery.shownIds()')
    assert shown == sorted(distance, key=lambda i: (distance[i] is None, distance[i] or 0, i))
    choose(page, 'class-filter', '0')  # class '0': images with at least one box of it
    with_class = {a['image_id'] for a in coco['annotations'] if a['category_id'] == 1}
    assert set(page.execute_script('return gallery.shownIds()')) == with_class
    choose(page, 'class-filter', '-1')
    page.find_element('css selector', '#grid .card').click()  # the detail view
    assert page.find_element('id', 'detail').is_displayed()
    assert 'seed' in page.find_element('css selector', '#detail .detail-info').text
    page.find_element('id', 'detail-close').click()
    page.find_element('css selector', '#tabs button[data-tab=classes]').click()
    assert len(page.find_elements('css selector', '.class-block')) == len(CLASSES)
    assert page.find_elements('css selector', '.class-block svg.hist rect')
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.save_screenshot(str(ARTIFACTS / 'gallery_classes.png'))
    assert not console_errors(page)


def test_stored_detections_are_drawn(page):
    page.find_element('css selector', '#tabs button[data-tab=images]').click()
    choose(page, 'pr-key', KEY_A)
    choose(page, 'show', 'all')
    choose(page, 'class-filter', '-1')

    def marks(scope: str, cls: str = 'det') -> list:
        return page.find_elements('css selector', f'{scope} svg rect.{cls}')

    card = '#grid .card[data-id="{}"]'.format
    for i in range(NUM_IMAGES):  # each stored record: one detection on a layout box and one false positive
        assert (len(marks(card(i))), len(marks(card(i), 'det.fp'))) == ((2, 1) if i in DETECTED else (0, 0)), i
    labels = [t.text for t in page.find_elements('css selector', f'{card(DETECTED[0])} svg text.det')]
    assert labels == ['0 0.87', 'FP 1 0.41']
    assert len(page.find_elements('css selector', '#legend span')) == 4
    page.find_element('css selector', card(DETECTED[0])).click()
    assert len(marks('.detail-image')) == 2 and len(marks('.detail-image', 'det.hit')) == 1
    rows = page.find_elements('css selector', '#detail table.detections tr')
    assert len(rows) == 3 and 'false positive' in rows[2].text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.save_screenshot(str(ARTIFACTS / 'gallery_detections.png'))
    page.find_element('id', 'detail-close').click()
    page.find_element('id', 'overlay-detections').click()  # hidden on demand
    assert not marks('#grid')
    page.find_element('id', 'overlay-detections').click()
    choose(page, 'pr-key', KEY_B)  # scored without detections stored: nothing drawn, nothing said
    assert not marks('#grid') and page.find_elements('css selector', f'{card(DETECTED[0])} svg rect')  # layout boxes
    assert not console_errors(page)
