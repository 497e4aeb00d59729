"""Copy-paste into real scenes (``background='scene'``): the frame's own objects stay annotated, pasted
ones are added, hidden ones lose their box, and a layout never lands on the frame it was copied from."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmgen_det.generation.copy_paste import CopyPasteGenerator, visible_boxes
from mmgen_det.generation.gligen_inpaint import GLIGENInpaintGenerator
from mmgen_det.generation.synthetic_set import generate_synthetic_set
from mmgen_det.layouts import Layout

WIDTH, HEIGHT = 160, 120
OTTER, BUOY = (200, 60, 20), (240, 230, 30)
#: per frame: the otter's and the buoy's COCO xywh boxes (the buoy straddles the frame's middle)
OBJECTS = [([12 + 2 * i, 20, 28, 16], [70, 60 + 4 * i, 40, 20]) for i in range(5)]


def scenes(root: Path) -> dict:
    """Five 160x120 frames of one camera, each with an otter (left) and a buoy (across the middle), in
    plain colours, so every pixel says which object (or the water) it came from; the COCO dict."""
    rng = np.random.default_rng(1)
    images, anns = [], []
    for i, (otter, buoy) in enumerate(OBJECTS):
        frame = np.full((HEIGHT, WIDTH, 3), (20, 70, 120), np.float32) + rng.normal(0, 2, (HEIGHT, WIDTH, 3))
        for (x, y, w, h), colour, cat in ((otter, OTTER, 1), (buoy, BUOY, 2)):
            frame[y:y + h, x:x + w] = colour
            anns.append(dict(id=len(anns) + 1, image_id=i + 1, category_id=cat, iscrowd=0, bbox=[x, y, w, h]))
        Image.fromarray(frame.clip(0, 255).astype(np.uint8)).save(root / f's{i}.png')
        images.append(dict(id=i + 1, file_name=f's{i}.png', width=WIDTH, height=HEIGHT))
    return dict(images=images, annotations=anns, categories=[dict(id=2, name='buoy'), dict(id=1, name='otter')])


@pytest.fixture
def scene_generator(tmp_path) -> CopyPasteGenerator:
    return CopyPasteGenerator(scenes(tmp_path), tmp_path, background='scene', blend='none', match_colour=False)


def layout(boxes, labels, image_id=1, width=WIDTH, height=HEIGHT) -> Layout:
    return Layout(index=0, width=width, height=height, boxes=np.array(boxes, float), labels=labels,
                  source=dict(strategy='jitter', image_id=image_id))


def frame_boxes(image_id: int, scale: float = 1.0) -> list[list[float]]:
    """The frame's otter and buoy as pixel xyxy, scaled."""
    return [[v * scale for v in (x, y, x + w, y + h)] for x, y, w, h in OBJECTS[image_id - 1]]


def test_the_frame_objects_are_kept_as_annotations_after_the_pasted_ones(scene_generator):
    """A small otter pasted in a corner hides nothing: the result is its box, then the frame's otter and
    buoy, with the frame's class names, exactly where their pixels are."""
    out = scene_generator.generate([layout([[0.85, 0.8, 0.95, 0.95]], ['otter'])], [3])[0]
    picked = out.record['background']['image_ids'][0]
    assert out.record['background']['method'] == 'scene' and out.record['scene'] == dict(kept=2, hidden=0)
    assert out.layout.labels == ('otter', 'otter', 'buoy')
    np.testing.assert_allclose(out.layout.pixel_boxes()[1:], frame_boxes(picked), atol=1e-6)
    pixels = np.asarray(out.image)
    for (x0, y0, x1, y1), colour in zip(frame_boxes(picked), (OTTER, BUOY)):
        np.testing.assert_allclose(pixels[int(y0) + 2:int(y1) - 2, int(x0) + 2:int(x1) - 2].mean(axis=(0, 1)),
                                   colour, atol=8)


def test_a_layout_never_lands_on_the_frame_it_was_copied_from(scene_generator):
    """Its boxes sit on that frame's own objects: they would bury them."""
    outs = scene_generator.generate([layout([[0.85, 0.8, 0.95, 0.95]], ['otter'], image_id=2)] * 30, list(range(30)))
    picked = {o.record['background']['image_ids'][0] for o in outs}
    assert 2 not in picked and len(picked) >= 2


def test_hidden_objects_lose_their_box_and_half_hidden_ones_their_covered_side(scene_generator):
    """The left half pasted over: the otter (all in it) is dropped, the buoy (a quarter in it) keeps a box
    from the middle to its right edge; a paste over everything leaves only itself."""
    out = scene_generator.generate([layout([[0, 0, 0.5, 1]], ['buoy'])], [5])[0]
    picked = out.record['background']['image_ids'][0]
    (_, by0, bx1, by1), = frame_boxes(picked)[1:]
    assert out.layout.labels == ('buoy', 'buoy') and out.record['scene'] == dict(kept=1, hidden=1)
    np.testing.assert_allclose(out.layout.pixel_boxes(), [[0, 0, 80, 120], [80, by0, bx1, by1]], atol=1e-6)
    everything = scene_generator.generate([layout([[0, 0, 1, 1]], ['otter'])], [5])[0]
    assert everything.layout.labels == ('otter',) and everything.record['scene'] == dict(kept=0, hidden=2)


def test_visible_boxes_follows_the_cover_and_the_threshold():
    cover = np.zeros((20, 40), bool)
    cover[:, :10] = True  # the left quarter hidden
    boxes = np.array([[2.0, 2.0, 8.0, 8.0], [6.0, 4.0, 14.0, 12.0], [20.5, 3.0, 30.0, 9.5], [8.0, 0.0, 12.0, 4.0]])
    kept, keep = visible_boxes(boxes, cover, 0.5)
    assert keep.tolist() == [False, True, True, True]
    np.testing.assert_allclose(kept, [[10, 4, 14, 12], [20.5, 3.0, 30.0, 9.5], [10, 0, 12, 4]])
    assert visible_boxes(boxes, cover, 0.6)[1].tolist() == [False, False, True, False]


def test_scene_boxes_follow_the_resize_and_crop_to_another_canvas(scene_generator):
    """A half-size canvas halves every frame box; a square one cuts a window of the frame and clips
    (or drops) the boxes it cuts."""
    half = scene_generator.generate([layout([[0.9, 0.9, 1.0, 1.0]], ['otter'], width=80, height=60)], [4])[0]
    np.testing.assert_allclose(half.layout.pixel_boxes()[1:], frame_boxes(half.record['background']['image_ids'][0], 0.5),
                               atol=1e-6)
    for seed in range(6):
        square = scene_generator.generate([layout([[0.9, 0.9, 1.0, 1.0]], ['otter'], width=60, height=60)], [seed])[0]
        x0, y0, x1, y1 = square.record['background']['crop']
        assert (x1 - x0, y1 - y0) == (HEIGHT, HEIGHT)
        expected = []
        for label, box in zip(('otter', 'buoy'), frame_boxes(square.record['background']['image_ids'][0])):
            clipped = np.clip((np.array(box) - [x0, y0, x0, y0]) * 0.5, 0, 60)
            if min(clipped[2:] - clipped[:2]) >= 1:
                expected.append((label, clipped))
        assert square.layout.labels[1:] == tuple(label for label, _ in expected)
        np.testing.assert_allclose(square.layout.pixel_boxes()[1:].reshape(-1, 4),
                                   np.array([b for _, b in expected]).reshape(-1, 4), atol=1e-6)


def test_same_seed_same_image_and_settings_recorded_only_for_scenes(tmp_path, scene_generator):
    lay = [layout([[0.3, 0.2, 0.6, 0.5]], ['buoy'])]
    a, b = scene_generator.generate(lay, [9]), scene_generator.generate(lay, [9])
    assert a[0].image.tobytes() == b[0].image.tobytes() and a[0].layout.to_dict() == b[0].layout.to_dict()
    assert scene_generator.identity()['scene_min_visible'] == 0.5
    plain = CopyPasteGenerator(scenes(tmp_path), tmp_path)
    assert 'scene_min_visible' not in plain.identity()
    stricter = CopyPasteGenerator(scenes(tmp_path), tmp_path, background='scene', scene_min_visible=0.9)
    assert stricter.identity() != scene_generator.identity()
    with pytest.raises(ValueError, match='scene_min_visible'):
        CopyPasteGenerator(scenes(tmp_path), tmp_path, background='scene', scene_min_visible=0)


def test_a_set_made_on_scenes_annotates_every_kept_object(tmp_path):
    """Through the set writer: the annotation file holds the pasted and the kept frame boxes of each image."""
    real = tmp_path / 'real'
    real.mkdir()
    coco = scenes(real)
    (real / 'train.json').write_text(json.dumps(coco))
    out = tmp_path / 'set'
    generate_synthetic_set(dict(num_images=6, seed=0, batch_size=3, image_format='png',
                                layout=dict(ann_file=str(real / 'train.json'), strategy='jitter', width=WIDTH,
                                            height=HEIGHT, min_box_cells=0.5, min_boxes=1),
                                generator=dict(type='copy_paste', ann_file=str(real / 'train.json'),
                                               img_root=str(real), background='scene'),
                                out_dir=str(out)), progress=False)
    ann = json.loads((out / 'annotations.json').read_text())
    manifest = [json.loads(line) for line in (out / 'manifest.jsonl').read_text().splitlines()]
    per_image = {im['id']: 0 for im in ann['images']}
    for a in ann['annotations']:
        per_image[a['image_id']] += 1
    scene_counts = [m['generation']['scene']['kept'] for m in manifest]
    assert len(per_image) == 6 and sum(scene_counts) > 0
    assert sorted(per_image.values()) == sorted(len(m['layout']['labels']) for m in manifest)


def test_scene_backgrounds_are_refused_where_frame_objects_would_go_unannotated(tmp_path):
    """GLIGEN inpainting adds only its layout's boxes: the frame's objects would be unlabelled."""
    with pytest.raises(ValueError, match='background_method must be one of'):
        GLIGENInpaintGenerator('unused', scenes(tmp_path), tmp_path, background_method='scene')
