"""Layout sampling: box maths, the three strategies, every counted drop, validation, determinism."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmgen_det.layouts import LayoutSampler, build_layout_sampler, format_stats, layout_stats
from mmgen_det.layouts.geometry import (crop_boxes, flip_boxes, largest_boxes, place_window, scale_shift_boxes,
                                        window_fraction)
from mmgen_det.utils.boxes import box_iou

REPO = Path(__file__).resolve().parents[2]
F4K = REPO / 'data' / 'fish4knowledge-mini' / 'train'
F4K_NAMES = ['0', '1', '2', '5', '6', '7', '8']
NO_DROPS = dict(min_box_cells=0, min_boxes=0)


def make_coco(images, names=('fish', 'crab')):
    """COCO dict from ``[(width, height, [(x, y, w, h, name), ...]), ...]``; image ids start at 1."""
    cats = [dict(id=k, name=n) for k, n in enumerate(names)]
    coco = dict(images=[], annotations=[], categories=cats)
    for image_id, (w, h, boxes) in enumerate(images, start=1):
        coco['images'].append(dict(id=image_id, file_name=f'{image_id}.jpg', width=w, height=h))
        for x, y, bw, bh, name in boxes:
            coco['annotations'].append(dict(id=len(coco['annotations']) + 1, image_id=image_id,
                                            category_id=names.index(name), bbox=[x, y, bw, bh],
                                            area=bw * bh, iscrowd=0))
    return coco


@pytest.fixture(scope='module')
def f4k():
    """fish4knowledge-mini train split (YOLO txt) as a COCO dict; sizes read from the images."""
    coco = dict(images=[], annotations=[], categories=[dict(id=k, name=n) for k, n in enumerate(F4K_NAMES)])
    for image_id, label_file in enumerate(sorted((F4K / 'labels').glob('*.txt'))):
        image_file = next((F4K / 'images').glob(label_file.stem + '.*'))
        w, h = Image.open(image_file).size
        coco['images'].append(dict(id=image_id, file_name=image_file.name, width=w, height=h))
        for line in label_file.read_text().splitlines():
            if line.strip():
                k, cx, cy, bw, bh = line.split()
                cx, cy, bw, bh = float(cx) * w, float(cy) * h, float(bw) * w, float(bh) * h
                coco['annotations'].append(dict(id=len(coco['annotations']), image_id=image_id, category_id=int(k),
                                                bbox=[cx - bw / 2, cy - bh / 2, bw, bh], area=bw * bh, iscrowd=0))
    assert coco['images'][0]['width'] == 360 and coco['images'][0]['height'] == 202
    return coco


# ---------------------------------------------------------------- box maths
def test_window_fraction():
    np.testing.assert_allclose(window_fraction(360, 202, 512, 512, 'crop'), [202 / 360, 1.0])
    np.testing.assert_allclose(window_fraction(360, 202, 512, 512, 'crop', zoom=2), [101 / 360, 0.5])
    np.testing.assert_allclose(window_fraction(100, 100, 512, 256, 'crop'), [1.0, 0.5])
    np.testing.assert_allclose(window_fraction(360, 202, 512, 512, 'stretch', zoom=4), [0.25, 0.25])


def test_place_window_stays_inside():
    np.testing.assert_allclose(place_window([0.5, 0.5], [0.5, 0.5]), [0.25, 0.25, 0.75, 0.75])
    np.testing.assert_allclose(place_window([0.5, 0.5], [0.1, 0.9]), [0.0, 0.5, 0.5, 1.0])
    np.testing.assert_allclose(place_window([1.5, 0.2], [0.3, 0.3]), [0.0, 0.2, 1.0, 0.4])


def test_crop_boxes_hand_case():
    boxes = np.array([[0.1, 0.2, 0.2, 0.4], [0.4, 0.0, 0.6, 0.5], [0.7, 0.1, 0.9, 0.2]])
    cropped, visible = crop_boxes(boxes, np.array([0.0, 0.0, 0.5, 1.0]))
    np.testing.assert_allclose(cropped[:2], [[0.2, 0.2, 0.4, 0.4], [0.8, 0.0, 1.0, 0.5]])
    np.testing.assert_allclose(visible, [1.0, 0.5, 0.0])


def test_flip_scale_shift_iou_largest():
    boxes = np.array([[0.1, 0.2, 0.3, 0.4]])
    np.testing.assert_allclose(flip_boxes(boxes), [[0.7, 0.2, 0.9, 0.4]])
    np.testing.assert_allclose(flip_boxes(flip_boxes(boxes)), boxes)
    np.testing.assert_allclose(scale_shift_boxes(np.array([[0.4, 0.4, 0.6, 0.6]]), 2.0, np.array([0.1, 0.0])),
                               [[0.4, 0.3, 0.8, 0.7]])
    np.testing.assert_allclose(box_iou([[0, 0, 1, 1.0]], [[0, 0, 0.5, 1.0], [2, 2, 3, 3.0]]), [[0.5, 0.0]])
    areas = np.array([[0, 0, .2, .2], [0, 0, .1, .1], [0, 0, .3, .3], [0, 0, .1, .1]])
    assert largest_boxes(areas, 3).tolist() == [True, True, True, False]


# ---------------------------------------------------------------- determinism
@pytest.mark.parametrize('strategy', ['copy', 'jitter', 'fit'])
def test_sample_is_a_pure_function_of_seed_and_index(f4k, strategy):
    cfg = dict(strategy=strategy, seed=3, zoom=(1.0, 2.0))
    sampler = LayoutSampler(f4k, **cfg)
    first = sampler.sample(5).to_dict()
    json.dumps(first)  # the record must be storable as is
    assert sampler.sample(5).to_dict() == first
    other = LayoutSampler(f4k, **cfg)
    other.sample(7), other.sample(300)
    assert other.sample(5).to_dict() == first
    assert LayoutSampler(f4k, **dict(cfg, seed=4)).sample(5).to_dict() != first


def test_same_layout_in_a_fresh_process_without_mmdet_or_torch(f4k, tmp_path):
    # the generation box may lack mmcv/mmdet (and layouts need no torch): block them, which also keeps
    # the child fast; another hash seed catches any dependence on set/dict iteration order
    ann = tmp_path / 'train.json'
    ann.write_text(json.dumps(f4k))
    cfg = dict(ann_file=str(ann), strategy='jitter', seed=1, zoom=[1.0, 3.0])
    code = ('import json, sys; sys.modules.update(mmdet=None, mmcv=None, mmengine=None, torch=None); '
            'from mmgen_det.layouts import build_layout_sampler; '
            f's = build_layout_sampler({cfg!r}); print(json.dumps([s.sample(i).to_dict() for i in (0, 9, 401)]))')
    out = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONHASHSEED='123')).stdout
    here = build_layout_sampler(cfg)
    assert json.loads(out) == [json.loads(json.dumps(here.sample(i).to_dict())) for i in (0, 9, 401)]


def test_copy_uses_every_real_image_equally_often():
    coco = make_coco([(100, 100, [(10, 10, 50, 50, 'fish')])] * 5)
    sampler = LayoutSampler(coco, strategy='copy', seed=2)
    ids = [sampler.sample(i).source['image_id'] for i in range(15)]
    for epoch in range(3):
        assert sorted(ids[5 * epoch:5 * epoch + 5]) == [1, 2, 3, 4, 5]
    assert ids[:5] != ids[5:10] or ids[5:10] != ids[10:]  # the order is reshuffled per epoch


# ---------------------------------------------------------------- strategies
def test_copy_stretch_reproduces_the_real_layout():
    coco = make_coco([(200, 100, [(20, 10, 40, 30, 'fish'), (100, 50, 100, 50, 'crab')])])
    layout = LayoutSampler(coco, strategy='copy', aspect='stretch', width=512, height=256).sample(0)
    np.testing.assert_allclose(layout.boxes, [[0.1, 0.1, 0.3, 0.4], [0.5, 0.5, 1.0, 1.0]])
    np.testing.assert_allclose(layout.pixel_boxes()[0], [51.2, 25.6, 153.6, 102.4])
    assert layout.labels == ('fish', 'crab')
    assert (layout.width, layout.height) == (512, 256)
    assert layout.source['image_id'] == 1 and layout.source['dropped']['too_small'] == 0


@pytest.mark.parametrize('zoom, expected', [((1.0, 1.0), [0.0, 0.0, 0.2, 0.2]),
                                            ((2.0, 2.0), [0.0, 0.0, 0.4, 0.4])])
def test_crop_and_zoom_hand_case(zoom, expected):
    # 200x100 real image -> 64x64: the square window is 100x100 px (zoom 2: 50x50) and, with the 20x20
    # box in the corner, it is clamped to that corner whatever the random draw: 20/100 and 20/50
    coco = make_coco([(200, 100, [(0, 0, 20, 20, 'fish')])])
    sampler = LayoutSampler(coco, strategy='copy', width=64, height=64, zoom=zoom, min_box_cells=0)
    for index in range(5):
        layout = sampler.sample(index)
        np.testing.assert_allclose(layout.boxes, [expected], atol=1e-9)
        assert layout.source['zoom'] == zoom[0]


def test_crop_zoom_keeps_boxes_inside_and_counts_cut(f4k):
    sampler = LayoutSampler(f4k, strategy='jitter', zoom=(1.0, 4.0), min_boxes=0)
    layouts = [sampler.sample(i) for i in range(300)]
    boxes = np.concatenate([layout.boxes for layout in layouts])
    assert boxes.min() >= 0 and boxes.max() <= 1 and np.all(boxes[:, 2:] > boxes[:, :2])
    assert all(1.0 <= layout.source['zoom'] <= 4.0 for layout in layouts)
    assert layout_stats(layouts)['dropped']['cut'] > 0


def test_jitter_flip_mirrors_the_copied_boxes():
    coco = make_coco([(100, 100, [(10, 20, 30, 10, 'fish')]), (100, 100, [(60, 0, 40, 40, 'crab')])])
    still = dict(aspect='stretch', shift=0.0, scale=(1.0, 1.0), **NO_DROPS)
    for index in range(4):
        copied = LayoutSampler(coco, strategy='copy', **still).sample(index)
        flipped = LayoutSampler(coco, strategy='jitter', flip=1.0, **still).sample(index)
        unflipped = LayoutSampler(coco, strategy='jitter', flip=0.0, **still).sample(index)
        np.testing.assert_allclose(flipped.boxes, flip_boxes(copied.boxes))
        np.testing.assert_allclose(unflipped.boxes, copied.boxes)
        assert flipped.source['flip'] and not unflipped.source['flip']
        assert flipped.labels == copied.labels


def test_fit_draws_known_classes_by_frequency():
    boxes = [(10 + 3 * i, 20, 30, 30, 'fish' if i % 4 else 'crab') for i in range(8)]
    coco = make_coco([(200, 200, boxes[:2]), (200, 200, boxes[2:5]), (200, 200, boxes[5:])])
    sampler = LayoutSampler(coco, strategy='fit', iou_threshold=0.3, position='uniform', min_boxes=0)
    layouts = [sampler.sample(i) for i in range(400)]
    labels = [x for layout in layouts for x in layout.labels]
    assert set(labels) <= {'fish', 'crab'}
    assert abs(labels.count('crab') / len(labels) - 0.25) < 0.05
    assert {len(layout) + layout.source['dropped']['overlap'] for layout in layouts} <= {2, 3}
    for layout in layouts:  # placed boxes never overlap more than allowed
        for k in range(1, len(layout)):
            assert box_iou(layout.boxes[k:k + 1], layout.boxes[:k]).max() <= 0.3 + 1e-9


def single_box_frames(width, height, n=40, seed=0):
    """``n`` real frames of one size, one small box each (3-5% of each side) anywhere in the frame."""
    rng = np.random.default_rng(seed)
    images = []
    for k in range(n):
        w, h = rng.uniform(0.03, 0.05) * width, rng.uniform(0.03, 0.05) * height
        images.append((width, height, [(rng.uniform(0, width - w), rng.uniform(0, height - h), w, h,
                                        'crab' if k % 3 == 0 else 'fish')]))
    return make_coco(images)


def to_frame(layout):
    """The layout's boxes mapped back through its recorded window: normalised boxes of the real frame."""
    window = np.asarray(layout.source['window'])
    return np.tile(window[:2], 2) + layout.boxes * np.tile(window[2:] - window[:2], 2)


FRAMES = [((1920, 1080), (512, 512)), ((300, 400), (640, 360))]
EXACT = dict(size_noise=0.0, position_noise=0.0, **NO_DROPS)


@pytest.mark.parametrize('zoom', [(1.0, 1.0), (2.0, 3.0)])
@pytest.mark.parametrize('real, canvas', FRAMES)
def test_fit_boxes_are_real_boxes_through_the_window(real, canvas, zoom):
    """Without noise, every 'fit' box is a real box (its size and its place in the real frame) seen
    through the layout's window: sizes and positions are in one frame and zoom moves both."""
    coco = single_box_frames(*real)
    sampler = LayoutSampler(coco, strategy='fit', width=canvas[0], height=canvas[1], zoom=zoom, **EXACT)
    real_boxes = {name: np.array([[x / real[0], y / real[1], (x + w) / real[0], (y + h) / real[1]]
                                  for x, y, w, h in (a['bbox'] for a in coco['annotations']
                                                     if coco['categories'][a['category_id']]['name'] == name)])
                  for name in ('fish', 'crab')}
    for i in range(200):
        layout = sampler.sample(i)
        assert len(layout) == 1
        frame_box = to_frame(layout)[0]
        assert np.abs(real_boxes[layout.labels[0]] - frame_box).max(axis=1).min() < 1e-5, (i, layout.source)


@pytest.mark.parametrize('zoom', [(1.0, 1.0), (2.0, 3.0)])
@pytest.mark.parametrize('real, canvas', FRAMES)
def test_fit_places_boxes_as_copy_maps_real_ones(real, canvas, zoom):
    """On one-box frames without noise 'fit' and 'copy' draw from the same law: the real boxes mapped
    to the canvas by the documented window. Compared in canvas pixels: centres and box sides."""
    coco = single_box_frames(*real)

    def canvas_stats(strategy):
        sampler = LayoutSampler(coco, strategy=strategy, width=canvas[0], height=canvas[1], zoom=zoom, **EXACT)
        boxes = np.concatenate([sampler.sample(i).pixel_boxes() for i in range(800)])
        centres, sides = (boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]
        return centres.mean(0), centres.std(0), sides.mean(0)

    (fit_mean, fit_std, fit_sides), (copy_mean, copy_std, copy_sides) = canvas_stats('fit'), canvas_stats('copy')
    spread = np.array(canvas) * 0.04  # a few standard errors of 800 draws
    np.testing.assert_array_less(np.abs(fit_mean - copy_mean), spread)
    np.testing.assert_array_less(np.abs(fit_std - copy_std), spread)
    np.testing.assert_allclose(fit_sides, copy_sides, rtol=0.05)


def test_jitter_keeps_min_visible_of_the_real_box_and_counts_every_drop():
    """Window and jitter cut one after the other: a kept box still shows ``min_visible`` of the real
    box, and every real box of the source image is in the layout or counted as a drop."""
    names = tuple('abcdefgh')
    rng = np.random.default_rng(1)
    images = [(400, 300, [(rng.uniform(0, 340), rng.uniform(0, 250), rng.uniform(20, 60), rng.uniform(15, 50), n)
                          for n in names]) for _ in range(10)]
    coco = make_coco(images, names)
    sampler = LayoutSampler(coco, strategy='jitter', width=256, height=256, zoom=(1.0, 2.5), shift=0.3,
                            scale=(0.8, 1.3), flip=0.5, **NO_DROPS)
    real = {im.id: dict(zip(im.labels, im.boxes)) for im in sampler.real.images}
    shown = []
    for i in range(300):
        layout = sampler.sample(i)
        source = layout.source
        assert len(real[source['image_id']]) == len(layout) + sum(source['dropped'].values())
        boxes = ((layout.boxes.reshape(-1, 2, 2) - 0.5 - source['shift']) / source['scale'] + 0.5).reshape(-1, 4)
        if source['flip']:
            boxes = flip_boxes(boxes)
        window = np.asarray(source['window'])
        boxes = np.tile(window[:2], 2) + boxes * np.tile(window[2:] - window[:2], 2)
        for box, label in zip(boxes, layout.labels):
            whole = real[source['image_id']][label]
            shown.append(np.prod(box[2:] - box[:2]) / np.prod(whole[2:] - whole[:2]))
    assert len(shown) > 300 and min(shown) >= 0.5 - 0.01  # recorded scale/shift are rounded to 4 digits
    assert layout_stats([sampler.sample(i) for i in range(300)])['dropped']['cut'] > 0


def test_boxes_of_redrawn_attempts_are_counted():
    # image 1 keeps one box of two (the crab is too small): under min_boxes=2, so it is redrawn
    coco = make_coco([(512, 512, [(0, 0, 100, 100, 'fish'), (200, 200, 4, 4, 'crab')]),
                      (512, 512, [(0, 0, 100, 100, 'crab'), (200, 200, 100, 100, 'fish')])])
    sampler = LayoutSampler(coco, strategy='copy', aspect='stretch', min_boxes=2)
    layouts = [sampler.sample(i) for i in range(8)]
    redraws = 0
    for layout in layouts:
        n = layout.source['attempt']
        assert layout.source['redraw_dropped'] == ({'too_small': n, 'under_min_boxes': n} if n else {})
        redraws += n
    assert redraws >= 4  # every layout of image 1 was redrawn at least once
    stats = layout_stats(layouts)
    assert stats['redraw_dropped'] == {'too_small': redraws, 'under_min_boxes': redraws}
    assert 'dropped in redraws: under_min_boxes' in format_stats(stats)


# ---------------------------------------------------------------- drops, limits
def test_min_box_cells_drops_are_counted():
    coco = make_coco([(512, 512, [(0, 0, 100, 100, 'fish'), (200, 200, 15, 40, 'crab')])])
    layout = LayoutSampler(coco, strategy='copy', aspect='stretch', min_box_cells=2).sample(0)
    assert layout.labels == ('fish',)
    assert layout.source['dropped']['too_small'] == 1
    kept = LayoutSampler(coco, strategy='copy', aspect='stretch', min_box_cells=1).sample(0)
    assert len(kept) == 2 and kept.source['dropped']['too_small'] == 0


def _crowded_coco(n=35):
    # box k is (20 + k) px wide, on its own cell of an 80 px grid: sizes all differ
    return make_coco([(512, 512, [((k % 6) * 80, (k // 6) * 80, 20 + k, 20 + k, 'fish') for k in range(n)])])


def test_too_many_boxes_drops_the_smallest_and_counts():
    layout = LayoutSampler(_crowded_coco(), strategy='copy', aspect='stretch', min_box_cells=0).sample(0)
    assert len(layout) == 30
    widths = np.round((layout.boxes[:, 2] - layout.boxes[:, 0]) * 512).astype(int)
    assert widths.tolist() == list(range(25, 55))  # the 30 largest, in their original order
    assert layout.source['dropped']['too_many'] == 5


def test_too_many_boxes_error_names_the_image():
    sampler = LayoutSampler(_crowded_coco(), strategy='copy', aspect='stretch', min_box_cells=0,
                            too_many_boxes='error')
    with pytest.raises(ValueError, match=r'35 boxes from real image id 1 \(1.jpg\).*max_boxes=30'):
        sampler.sample(0)


def test_min_boxes_redraws_with_the_next_attempt():
    coco = make_coco([(512, 512, [(0, 0, 4, 4, 'fish')]), (512, 512, [(0, 0, 100, 100, 'crab')])])
    sampler = LayoutSampler(coco, strategy='copy', aspect='stretch', min_boxes=1)
    layouts = [sampler.sample(i) for i in range(6)]
    redrawn = [layout for layout, i in zip(layouts, range(6)) if sampler.real_image_for(i).id == 1]
    assert len(redrawn) == 3
    for layout in redrawn:
        assert layout.source['attempt'] >= 1 and layout.source['image_id'] == 2 and len(layout) == 1
    assert layout_stats(layouts)['redraws'] == sum(layout.source['attempt'] for layout in redrawn)

    empty_allowed = LayoutSampler(coco, strategy='copy', aspect='stretch', min_boxes=0)
    index = next(i for i in range(6) if empty_allowed.real_image_for(i).id == 1)
    layout = empty_allowed.sample(index)
    assert len(layout) == 0 and layout.source['attempt'] == 0 and layout.source['dropped']['too_small'] == 1

    hopeless = LayoutSampler(make_coco([(512, 512, [(0, 0, 4, 4, 'fish')])]), strategy='copy', max_attempts=3)
    with pytest.raises(RuntimeError, match='all 3 attempts kept fewer than min_boxes=1'):
        hopeless.sample(0)


# ---------------------------------------------------------------- validation, source
def test_settings_are_validated():
    coco = make_coco([(100, 100, [(10, 10, 50, 50, 'fish')])])
    with pytest.raises(ValueError, match='multiples of 8.*500x512'):
        LayoutSampler(coco, width=500)
    with pytest.raises(ValueError, match="strategy must be one of.*'paste'"):
        LayoutSampler(coco, strategy='paste')
    with pytest.raises(ValueError, match=r"layout settings: unknown keys \['flipp'\] \(did you mean 'flip'\?\)"):
        LayoutSampler(coco, flipp=0.5)
    with pytest.raises(ValueError, match='zoom must be'):
        LayoutSampler(coco, zoom=(0.5, 2))
    with pytest.raises(ValueError, match='ann_file'):
        build_layout_sampler(dict(strategy='copy'))


@pytest.mark.parametrize('images, message', [
    ([], 'no images'),
    ([(100, 100, [])], 'none of its 1 images has a usable box'),
    ([(100, 100, [(10, 10, 0, 5, 'fish')])], "none of its 1 images.*'zero_area': 1"),
])
def test_empty_source_error_names_the_file(tmp_path, images, message):
    ann = tmp_path / 'empty_train.json'
    ann.write_text(json.dumps(make_coco(images)))
    with pytest.raises(ValueError, match=f'empty_train.json: {message}'):
        build_layout_sampler(dict(ann_file=str(ann)))


def test_zero_area_and_crowd_boxes_are_skipped_and_counted():
    coco = make_coco([(100, 100, [(10, 10, 20, 20, 'fish'), (10, 10, 0, 20, 'fish'), (150, 10, 20, 20, 'crab'),
                                  (30, 30, 40, 40, 'crab')])])
    coco['annotations'][3]['iscrowd'] = 1
    sampler = LayoutSampler(coco, strategy='copy', aspect='stretch')
    assert sampler.real.skipped == {'zero_area': 2, 'crowd': 1}  # the second is entirely outside the image
    assert sampler.sample(0).labels == ('fish',)


# ---------------------------------------------------------------- the real thing
def test_zoom_makes_fish4knowledge_boxes_larger(f4k):
    def median_side(zoom):
        sampler = LayoutSampler(f4k, strategy='jitter', zoom=zoom, **NO_DROPS)
        return layout_stats([sampler.sample(i) for i in range(300)])['short_side_px']['p50']

    plain, zoomed = median_side((1.0, 1.0)), median_side((2.0, 3.0))
    assert zoomed > 1.8 * plain, (plain, zoomed)
