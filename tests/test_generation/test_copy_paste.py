"""CopyPasteGenerator: objects land exactly in the layout boxes, deterministically per seed."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmgen_det.generation.copy_paste import (CopyPasteGenerator, match_edge_colour, paste_alpha, paste_order,
                                             pixel_box)
from mmgen_det.layouts import Layout

F4K = Path(__file__).resolve().parents[2] / 'data' / 'fish4knowledge-mini' / 'train'
F4K_NAMES = ['0', '1', '2', '5', '6', '7', '8']
BLUE, RED, GREEN, YELLOW = (0, 0, 200), (200, 0, 0), (0, 160, 0), (220, 220, 0)


def yolo_to_coco(root: Path, names: list[str]) -> dict:
    """COCO dict of a YOLO split (``images/`` + ``labels/``): YOLO index k is category k + 1."""
    images, anns = [], []
    for image_id, path in enumerate(sorted((root / 'images').iterdir()), 1):
        w, h = Image.open(path).size
        images.append(dict(id=image_id, file_name=path.name, width=w, height=h))
        for line in (root / 'labels' / f'{path.stem}.txt').read_text().splitlines():
            if line.strip():
                k, cx, cy, bw, bh = map(float, line.split())
                anns.append(dict(id=len(anns) + 1, image_id=image_id, category_id=int(k) + 1, iscrowd=0,
                                 bbox=[(cx - bw / 2) * w, (cy - bh / 2) * h, bw * w, bh * h]))
    return dict(images=images, annotations=anns, categories=[dict(id=k + 1, name=n) for k, n in enumerate(names)])


@pytest.fixture
def solid_set(tmp_path):
    """Image 1: blue water with a red 'fish' and a yellow 'crab' (each box 2 px wider than the
    object, as real boxes are). Image 2: plain green, the background to paste on."""
    source = np.zeros((48, 64, 3), np.uint8)
    source[:] = BLUE
    source[16:28, 20:32] = RED
    source[4:12, 44:60] = YELLOW
    Image.fromarray(source).save(tmp_path / 'src.png')
    Image.new('RGB', (64, 48), GREEN).save(tmp_path / 'bg.png')
    coco = dict(images=[dict(id=1, file_name='src.png', width=64, height=48),
                        dict(id=2, file_name='bg.png', width=64, height=48)],
                annotations=[dict(id=1, image_id=1, category_id=1, bbox=[18, 14, 16, 16]),
                             dict(id=2, image_id=1, category_id=2, bbox=[42, 2, 20, 12])],
                categories=[dict(id=1, name='fish'), dict(id=2, name='crab')])
    return coco, tmp_path


def _layout(boxes, labels, width=80, height=60, image_id=2):
    return Layout(index=0, width=width, height=height, boxes=np.array(boxes, float), labels=labels,
                  source=dict(strategy='copy', image_id=image_id))


def test_pixel_box_rounds_and_keeps_one_pixel():
    assert pixel_box([10.4, 5.5, 20.6, 9.49], 100, 100) == (10, 6, 21, 9)
    assert pixel_box([99.9, 3.0, 100.0, 3.2], 100, 100) == (99, 3, 100, 4)


def test_paste_order_is_largest_first_and_stable():
    assert paste_order([(0, 0, 2, 2), (0, 0, 5, 5), (1, 1, 3, 3), (0, 0, 1, 1)]) == [1, 0, 2, 3]


def test_paste_alpha_is_soft_at_the_border_and_opaque_inside():
    hard = paste_alpha(30, 40, blend='none')
    assert hard.shape == (30, 40) and (hard == 1).all()
    soft = paste_alpha(30, 40, feather=0.2, blend='gaussian')
    assert soft[0].max() < 0.1 and soft[:, 0].max() < 0.1
    assert soft[6:-6, 6:-6].min() > 0.97
    assert (np.diff(soft[15, :20]) >= -1e-6).all()  # rises monotonically towards the centre
    mask = np.zeros((30, 40), bool)
    mask[10:20, 10:30] = True
    assert (paste_alpha(30, 40, mask, blend='none') == mask).all()
    with pytest.raises(ValueError, match='blend'):
        paste_alpha(30, 40, blend='poisson')


def test_match_edge_colour_shifts_border_to_background():
    patch = np.zeros((10, 10, 3), np.float32) + (0, 0, 200)
    patch[3:7, 3:7] = RED
    under = np.zeros((10, 10, 3), np.float32) + (0, 100, 150)
    out = match_edge_colour(patch, under, ring=2)
    np.testing.assert_allclose(out[0, 0], (0, 100, 150))
    np.testing.assert_allclose(out[5, 5], (200, 100, 0))  # object shifted by the same offset, clipped


def test_pasted_crop_fills_the_box(solid_set):
    coco, root = solid_set
    gen = CopyPasteGenerator(coco, root, match_colour=False, hflip=False)
    layout = _layout([[0.25, 0.25, 0.75, 0.75]], ['fish'])  # pixels (20, 15)-(60, 45)
    image = np.asarray(gen.generate([layout], [0])[0].image).astype(int)
    assert image.shape == (60, 80, 3)
    outside = np.ones((60, 80), bool)
    outside[15:45, 20:60] = False
    assert (image[outside] == GREEN).all()
    assert (np.abs(image[26:34, 34:46] - RED) <= 2).all()  # the object, beyond edge and resampling ringing
    assert np.abs(image[15, 20:60] - GREEN).max() < 40  # the box border fades into the background


def test_hard_paste_and_occlusion_order(solid_set):
    """Smaller boxes go on top whatever their order in the layout, so every box stays visible."""
    coco, root = solid_set
    gen = CopyPasteGenerator(coco, root, blend='none', match_colour=False, hflip=False)
    big, small = [0.1, 0.1, 0.9, 0.9], [0.4, 0.4, 0.6, 0.6]
    for boxes, labels in [([big, small], ['crab', 'fish']), ([small, big], ['fish', 'crab'])]:
        image = np.asarray(gen.generate([_layout(boxes, labels)], [0])[0].image).astype(int)
        assert (np.abs(image[29:31, 39:41] - RED) <= 2).all()
        assert (np.abs(image[26, 18:30] - YELLOW) <= 12).all()  # the crab around it
        assert (image[6, 8:72] != GREEN).any(axis=-1).all()  # hard edge: the box's first row is all crop


def test_colour_matching_keeps_object_visible(solid_set):
    coco, root = solid_set
    gen = CopyPasteGenerator(coco, root, hflip=False)
    image = np.asarray(gen.generate([_layout([[0.25, 0.25, 0.75, 0.75]], ['fish'])], [0])[0].image).astype(int)
    assert np.abs(image[15, 20:60] - GREEN).max() < 10  # crop's blue water turned green
    assert np.abs(image[30, 40] - GREEN).sum() > 150  # the fish is still there


def test_empty_layout_is_the_background(solid_set):
    coco, root = solid_set
    gen = CopyPasteGenerator(coco, root)
    out, = gen.generate([_layout([], [], width=50, height=30)], [7])
    expected, bg_record = gen.background_bank.pick(np.random.default_rng(7), 50, 30, 2)
    assert out.image.tobytes() == expected.tobytes()
    assert out.record == dict(grounding='copy-paste', background=bg_record, crops=[])


def test_unknown_label_is_named(solid_set):
    coco, root = solid_set
    with pytest.raises(KeyError, match="'shark'"):
        CopyPasteGenerator(coco, root).generate([_layout([[0.1, 0.1, 0.5, 0.5]], ['shark'])], [0])


def test_identity_tracks_settings_and_annotations(solid_set):
    coco, root = solid_set
    with pytest.raises(ValueError, match='background'):
        CopyPasteGenerator(coco, root, background='blur')
    ident = CopyPasteGenerator(coco, root).identity()
    json.dumps(ident)
    assert ident['name'] == 'copy_paste' and ident['blend'] == 'gaussian'
    assert CopyPasteGenerator(coco, root).identity() == ident
    assert CopyPasteGenerator(coco, root, blend='none').identity() != ident
    fewer = dict(coco, annotations=coco['annotations'][:1])
    assert CopyPasteGenerator(fewer, root).identity()['annotations_sha256'] != ident['annotations_sha256']


@pytest.fixture(scope='module')
def f4k():
    coco = yolo_to_coco(F4K, F4K_NAMES)
    return coco, CopyPasteGenerator(coco, F4K / 'images')


def _real_layouts(coco, size=None, n=8):
    """Layouts copying the boxes of the first ``n`` annotated real images (at their size or ``size``)."""
    names = {c['id']: c['name'] for c in coco['categories']}
    layouts = []
    for im in coco['images']:
        anns = [a for a in coco['annotations'] if a['image_id'] == im['id']]
        if anns and len(layouts) < n:
            b = np.array([a['bbox'] for a in anns], float)
            xyxy = np.c_[b[:, :2], b[:, :2] + b[:, 2:]] / ([im['width'], im['height']] * 2)
            w, h = size or (im['width'], im['height'])
            layouts.append(Layout(index=len(layouts), width=w, height=h, boxes=xyxy.clip(0, 1),
                                  labels=[names[a['category_id']] for a in anns],
                                  source=dict(strategy='copy', image_id=im['id'])))
    return layouts


def test_fish4knowledge_generation(f4k):
    coco, gen = f4k
    for size in [(512, 512), None]:
        layouts = _real_layouts(coco, size)
        out = gen.generate(layouts, list(range(len(layouts))))  # speed: benchmarks/bench_layouts_copy_paste.py
        assert len(out) == 8
        for layout, generated in zip(layouts, out):
            assert generated.image.size == (layout.width, layout.height) and generated.image.mode == 'RGB'
            assert [c['label'] for c in generated.record['crops']] == list(layout.labels)
            json.dumps(generated.record)


def test_same_seed_same_pixels_whatever_the_batch(f4k):
    coco, gen = f4k
    layouts = _real_layouts(coco, n=3)
    first = gen.generate(layouts, [11, 12, 13])
    alone = gen.generate(layouts[1:2], [12])[0]
    fresh = CopyPasteGenerator(coco, F4K / 'images').generate(layouts[1:2], [12])[0]
    assert first[1].image.tobytes() == alone.image.tobytes() == fresh.image.tobytes()
    assert first[1].record == alone.record
    other = gen.generate(layouts[1:2], [99])[0]
    assert other.image.tobytes() != alone.image.tobytes()
