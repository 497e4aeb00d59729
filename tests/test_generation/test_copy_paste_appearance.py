"""Copy-paste appearance diversity: per-instance colour, blur, scale, rotation, truncation, blends and
background shifts, each off by default, deterministic per seed, with boxes that follow the pixels."""
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import REPO
from PIL import Image

from mmgen_det.generation.appearance import Appearance, auto_colour_ranges
from mmgen_det.generation.builder import build_generator, generator_settings
from mmgen_det.generation.copy_paste import BLENDS, POISSON_MARGIN, CopyPasteGenerator
from mmgen_det.generation.crops import ObjectCrop
from mmgen_det.generation.synthetic_set import generate_synthetic_set
from mmgen_det.layouts import Layout
from mmgen_det.utils.keys import UnknownKeyError

#: set_digest of the scene made by the generator as it was before appearance settings existed: with
#: them off, not one byte may change
DIGESTS_BEFORE = [(dict(), 'dc2353c19668d92e8db4ad018502194c5c670e67726cd49a22e9447aa7a59923'),
                  (dict(blend='none', hflip=False, match_colour=False),
                   '0e9fee07e3ede948aafe94ffe3a723510359b97e760ee8c0fee220bd54732756')]
DIVERSE = dict(colour=dict(brightness='auto', contrast='auto', saturation='auto', hue=0.02, gamma=0.2),
               blur=0.3, motion_blur=0.3, scale=(0.7, 1.4), rotation=20, truncation=0.3,
               background=dict(brightness=0.1, contrast=0.1, saturation=0.1, hue=0.01, gamma=0.1))
GREEN, RED, YELLOW = (0, 160, 0), (200, 0, 0), (220, 220, 0)


def textured_scene(root: Path) -> dict:
    """Six frames of one textured camera (a median background) and one of another (inpainted), with
    textured fish (box only) and a masked crab (polygon segmentation); returns the COCO dict."""
    rng = np.random.default_rng(0)

    def water(colour):  # smooth random shading around ``colour``
        shade = [Image.fromarray(rng.uniform(-40, 40, (6, 8)).astype(np.float32))
                 .resize((128, 96), Image.Resampling.BILINEAR) for _ in range(3)]
        return np.asarray(colour, np.float32) + np.stack([np.asarray(c) for c in shade], -1)

    cameras = [water((30, 90, 160)), water((40, 140, 60))]
    images, anns = [], []
    for i in range(7):
        frame = cameras[i // 6] + rng.normal(0, 2, (96, 128, 3))
        x, y = 10 + 14 * i, 12 + 8 * (i % 3)
        frame[y:y + 10, x:x + 14] = (200, 40, 30) + rng.normal(0, 12, (10, 14, 3))  # a textured fish
        images.append(dict(id=i + 1, file_name=f'f{i}.png', width=128, height=96))
        anns.append(dict(id=len(anns) + 1, image_id=i + 1, category_id=1, iscrowd=0,
                         bbox=[x - 1, y - 1, 16, 12]))
        if i < 6:
            cx, cy = 100 - 6 * i, 70
            poly = [cx - 6, cy, cx, cy - 5, cx + 6, cy, cx, cy + 5]
            yy, xx = np.mgrid[:96, :128]
            frame[np.abs(xx - cx) / 6 + np.abs(yy - cy) / 5 <= 1] = (230, 210, 20)  # a diamond crab
            anns.append(dict(id=len(anns) + 1, image_id=i + 1, category_id=2, iscrowd=0,
                             bbox=[cx - 6, cy - 5, 12, 10], segmentation=[poly]))
        Image.fromarray(frame.clip(0, 255).astype(np.uint8)).save(root / f'f{i}.png')
    return dict(images=images, annotations=anns,
                categories=[dict(id=1, name='fish'), dict(id=2, name='crab')])


def scene_layouts() -> list[Layout]:
    """Overlapping boxes, a box at the border, a layout without a source image."""
    specs = [([[0.1, 0.2, 0.6, 0.7], [0.4, 0.4, 0.7, 0.8]], ['fish', 'crab'], 1),
             ([[0.05, 0.1, 0.3, 0.3], [0.7, 0.5, 1.0, 0.9], [0.3, 0.3, 0.55, 0.6]], ['fish', 'crab', 'fish'],
              7),
             ([[0.2, 0.25, 0.8, 0.75]], ['crab'], None)]
    return [Layout(index=k, width=80, height=60, boxes=np.array(b, float), labels=labels,
                   source=dict(strategy='copy', image_id=image_id) if image_id else dict(strategy='copy'))
            for k, (b, labels, image_id) in enumerate(specs)]


def set_digest(gen: CopyPasteGenerator) -> str:
    """SHA-256 of the pixels and records of the scene's layouts, each generated with two seeds."""
    layouts = scene_layouts() * 2
    digest = hashlib.sha256()
    for generated in gen.generate(layouts, list(range(len(layouts)))):
        digest.update(generated.image.tobytes())
        digest.update(json.dumps(generated.record, sort_keys=True).encode())
    return digest.hexdigest()


@pytest.fixture(scope='module')
def scene(tmp_path_factory):
    root = tmp_path_factory.mktemp('scene')
    return textured_scene(root), root


@pytest.fixture
def solid(tmp_path):
    """A solid red square (box only, its box exactly the square) and a solid yellow diamond (a polygon
    mask) on blue water, and a plain green frame to paste on: object pixels are told by colour."""
    from pycocotools import mask as mask_utils
    diamond = [36, 24, 46, 12, 56, 24, 46, 36]
    source = np.zeros((48, 64, 3), np.uint8)
    source[:] = (0, 0, 200)
    source[10:30, 8:28] = RED
    source[mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([diamond], 48, 64))) > 0] = YELLOW
    Image.fromarray(source).save(tmp_path / 'src.png')
    Image.new('RGB', (64, 48), GREEN).save(tmp_path / 'bg.png')
    coco = dict(images=[dict(id=1, file_name='src.png', width=64, height=48),
                        dict(id=2, file_name='bg.png', width=64, height=48)],
                annotations=[dict(id=1, image_id=1, category_id=1, bbox=[8, 10, 20, 20]),
                             dict(id=2, image_id=1, category_id=2, bbox=[36, 12, 21, 25],
                                  segmentation=[diamond])],
                categories=[dict(id=1, name='square'), dict(id=2, name='diamond')])
    return coco, tmp_path


def _one(label, box, width=80, height=60):
    return Layout(index=0, width=width, height=height, boxes=np.array([box], float), labels=[label],
                  source=dict(strategy='copy', image_id=2))


@pytest.mark.parametrize('settings, digest', DIGESTS_BEFORE, ids=['defaults', 'hard-unflipped'])
def test_defaults_keep_the_pixels_of_before(scene, settings, digest):
    coco, root = scene
    for appearance in (None, {}, dict(colour=dict(brightness=0), truncation=0, blur_sigma=(1, 2))):
        gen = CopyPasteGenerator(coco, root, appearance=appearance, **settings)
        assert set_digest(gen) == digest
        assert 'appearance' not in gen.identity()  # sets made before keep their identity
        assert gen.generate(scene_layouts()[:1], [0])[0].layout is None


def test_same_seed_same_bytes_whatever_the_batch(scene):
    coco, root = scene
    layouts = scene_layouts()
    kwargs = dict(blend=list(BLENDS), appearance=DIVERSE)
    batch = CopyPasteGenerator(coco, root, **kwargs).generate(layouts, [3, 4, 5])
    alone = CopyPasteGenerator(coco, root, **kwargs).generate(layouts[1:2], [4])[0]
    assert batch[1].image.tobytes() == alone.image.tobytes() and batch[1].record == alone.record
    np.testing.assert_array_equal(batch[1].layout.boxes, alone.layout.boxes)
    other = CopyPasteGenerator(coco, root, **kwargs).generate(layouts[1:2], [40])[0]
    assert other.image.tobytes() != alone.image.tobytes()
    json.dumps([g.record for g in batch])


def test_new_draws_leave_the_old_ones_alone(scene):
    """Background and crop choices come from the seed's first stream, appearance from a second one."""
    coco, root = scene
    layouts = scene_layouts() * 4
    plain = CopyPasteGenerator(coco, root).generate(layouts, range(12))
    varied = CopyPasteGenerator(coco, root, blend=list(BLENDS), appearance=DIVERSE).generate(layouts,
                                                                                              range(12))
    for a, b in zip(plain, varied):
        assert {k: v for k, v in b.record['background'].items() if k != 'colour'} == a.record['background']
        assert [{k: c[k] for k in ('label', 'image_id', 'ann_id', 'flip')} for c in b.record['crops']] \
            == a.record['crops']
        assert all('blend' in c for c in b.record['crops'])
        assert a.image.tobytes() != b.image.tobytes()


def test_settings_are_recorded(scene):
    coco, root = scene
    gen = CopyPasteGenerator(coco, root, blend=('none', 'poisson'), appearance=DIVERSE)
    ident = gen.identity()
    assert ident['blend'] == ['none', 'poisson']
    assert ident['appearance'] == Appearance.from_config(DIVERSE).to_dict()
    assert ident['appearance']['scale'] == [0.7, 1.4]
    assert ident['appearance']['colour']['brightness'] == 'auto'
    assert json.loads(json.dumps(ident)) == ident  # compares equal once read back from generation_config.json
    other = CopyPasteGenerator(coco, root, blend=('none', 'poisson'), appearance=dict(DIVERSE, rotation=10))
    assert other.identity() != ident
    cfg = dict(type='copy_paste', ann_file=coco, img_root=str(root), blend=('none', 'poisson'),
               appearance=DIVERSE)
    settings, _ = generator_settings(cfg)
    assert settings['blend'] == ident['blend'] and settings['appearance'] == ident['appearance']
    assert generator_settings(dict(cfg, appearance=dict(DIVERSE, truncation=0.5)))[0] != settings
    assert isinstance(build_generator(cfg), CopyPasteGenerator)
    record = gen.generate(scene_layouts()[:1], [0])[0].record
    assert record['colour_ranges'] == auto_colour_ranges(
        c for label in gen.crop_bank.classes for c in gen.crop_bank.crops(label))


@pytest.mark.parametrize('kwargs, match', [
    (dict(appearance=dict(scale=(1.2, 0.8))), 'appearance.scale'),
    (dict(appearance=dict(scale=(0, 1))), 'appearance.scale'),
    (dict(appearance=dict(rotation=-5)), 'appearance.rotation'),
    (dict(appearance=dict(colour=dict(brightness=-0.1))), 'appearance.colour.brightness'),
    (dict(appearance=dict(colour=dict(hue=0.6))), 'appearance.colour.hue'),
    (dict(appearance=dict(background=dict(contrast='auto'))), 'appearance.background.contrast'),
    (dict(appearance=dict(blur=1.5)), 'appearance.blur'),
    (dict(appearance=dict(blur_sigma=(-1, 2))), 'appearance.blur_sigma'),
    (dict(appearance=dict(motion_blur_length=(3.5, 5))), 'appearance.motion_blur_length'),
    (dict(appearance=dict(min_visible=0)), 'appearance.min_visible'),
    (dict(appearance=dict(rotaton=5)), "'rotation'"),
    (dict(appearance=dict(colour=dict(brightnes=0.1))), "'brightness'"),
    (dict(blend='posson'), 'blend'),
    (dict(blend=['none', 'laplace']), 'blend'),
    (dict(blend=[]), 'blend'),
])
def test_bad_settings_are_refused_by_name(scene, kwargs, match):
    coco, root = scene
    with pytest.raises((ValueError, TypeError, UnknownKeyError), match=match):
        CopyPasteGenerator(coco, root, **kwargs)
    with pytest.raises((ValueError, TypeError, UnknownKeyError), match=match):  # before anything is built
        generator_settings(dict(type='copy_paste', ann_file=coco, img_root=str(root), **kwargs))


def _colour_box(image: np.ndarray) -> tuple[int, int, int, int]:
    """Tight xyxy box of the pixels at least half red or yellow (the green background has no red)."""
    ys, xs = np.nonzero(image[..., 0] >= 100)
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


@pytest.mark.parametrize('label', ['square', 'diamond'])
def test_boxes_are_tight_after_rotation_scale_and_truncation(solid, label):
    coco, root = solid
    gen = CopyPasteGenerator(coco, root, blend='none', match_colour=False,
                             appearance=dict(scale=(0.6, 1.6), rotation=40, truncation=0.5, min_visible=0.3))
    boxes = [0.3, 0.3, 0.6, 0.7], [0.05, 0.1, 0.35, 0.4], [0.6, 0.55, 0.95, 0.98]  # middle, near corners
    layouts = [_one(label, box) for box in boxes]
    truncated = rotated = 0
    for seed in range(8):
        for layout, out in zip(layouts, gen.generate(layouts, [seed] * 3)):
            look = out.record['crops'][0]
            truncated += look.get('visible', 1) < 1
            rotated += abs(look.get('angle', 0)) > 5
            box = out.layout.pixel_boxes()[0]
            np.testing.assert_allclose(box, _colour_box(np.asarray(out.image).astype(int)), atol=1)
    assert truncated >= 3 and rotated >= 10


def test_an_object_covered_by_a_later_paste_keeps_its_box(solid):
    coco, root = solid
    gen = CopyPasteGenerator(coco, root, blend='none', match_colour=False,
                             appearance=dict(scale=(0.99, 1.01)))  # boxes recomputed, objects unmoved
    boxes = np.array([[0.2, 0.2, 0.7, 0.8], [0.5, 0.3, 0.8, 0.7]])
    layout = Layout(index=0, width=80, height=60, boxes=boxes, labels=['square', 'diamond'],
                    source=dict(strategy='copy', image_id=2))
    out = gen.generate([layout], [0])[0]
    image = np.asarray(out.image).astype(int)
    assert (np.abs(image[30, 50] - YELLOW) <= 2).all()  # the diamond covers the square's right part
    np.testing.assert_allclose(out.layout.pixel_boxes()[0], [16, 12, 56, 48], atol=1)


def test_written_annotations_follow_the_moved_objects(solid):
    coco, root = solid
    (root / 'ann.json').write_text(json.dumps(coco))
    generate_synthetic_set(dict(
        out_dir=str(root / 'set'), num_images=6, seed=0, image_format='png',
        layout=dict(ann_file=str(root / 'ann.json'), strategy='copy', width=64, height=48, min_box_cells=0.5),
        generator=dict(type='copy_paste', ann_file=str(root / 'ann.json'), img_root=str(root), blend='none',
                       match_colour=False, appearance=dict(scale=(0.7, 1.3), rotation=30))), progress=False)
    written = json.loads((root / 'set' / 'annotations.json').read_text())
    for image in written['images']:
        pixels = np.asarray(Image.open(root / 'set' / image['file_name'])).astype(int)
        red = np.nonzero((pixels[..., 0] >= 100) & (pixels[..., 1] < 100))
        (x, y, w, h), = [a['bbox'] for a in written['annotations']
                         if a['image_id'] == image['id'] and a['category_id'] == 1]
        np.testing.assert_allclose([x, y, x + w, y + h],
                                   [red[1].min(), red[0].min(), red[1].max() + 1, red[0].max() + 1], atol=1)


def test_each_blend_pastes_inside_its_box(scene):
    coco, root = scene
    layout, seed = scene_layouts()[0], 5
    bank = CopyPasteGenerator(coco, root).background_bank
    background, _ = bank.pick(np.random.default_rng(seed), 80, 60, 1)
    background = np.asarray(background).astype(int)
    images = {}
    for blend in BLENDS:
        out = CopyPasteGenerator(coco, root, blend=blend).generate([layout], [seed])[0]
        image = np.asarray(out.image).astype(int)
        reach = POISSON_MARGIN if blend == 'poisson' else 0
        outside = np.ones((60, 80), bool)
        for x0, y0, x1, y1 in layout.pixel_boxes().round().astype(int):
            outside[max(0, y0 - reach):y1 + reach, max(0, x0 - reach):x1 + reach] = False
            assert np.abs(image[y0:y1, x0:x1] - background[y0:y1, x0:x1]).max() > 50
        assert np.abs(image[outside] - background[outside]).max() <= 1
        images[blend] = image
    assert len({images[b].tobytes() for b in BLENDS}) == len(BLENDS)


def test_colour_jitter_changes_the_object_not_the_background(solid):
    coco, root = solid
    layout = _one('square', [0.25, 0.25, 0.75, 0.75])  # pixels (20, 15)-(60, 45)
    plain = np.asarray(CopyPasteGenerator(coco, root, blend='none', match_colour=False)
                       .generate([layout], [0])[0].image).astype(int)
    for colour in (dict(brightness=0.5), dict(hue=0.3), dict(gamma=0.5), dict(saturation=0.9)):
        gen = CopyPasteGenerator(coco, root, blend='none', match_colour=False, appearance=dict(colour=colour))
        out = gen.generate([layout], [0])[0]
        image = np.asarray(out.image).astype(int)
        assert out.layout is None and set(out.record['crops'][0]['colour']) == set(colour)
        outside = np.ones((60, 80), bool)
        outside[15:45, 20:60] = False
        assert (image[outside] == plain[outside]).all()
        assert np.abs(image[20:40, 25:55] - plain[20:40, 25:55]).max() > 5, colour


def test_background_colour_shift(solid):
    coco, root = solid
    layout = _one('square', [0.25, 0.25, 0.75, 0.75])
    plain = np.asarray(CopyPasteGenerator(coco, root).generate([layout], [0])[0].image).astype(int)
    gen = CopyPasteGenerator(coco, root, appearance=dict(background=dict(brightness=0.4)))
    out = gen.generate([layout], [0])[0]
    ratio = np.asarray(out.image)[2:10, 2:10, 1] / plain[2:10, 2:10, 1]
    factor = out.record['background']['colour']['brightness']
    assert abs(factor - 1) > 0.01 and np.abs(ratio - factor).max() < 0.01


def test_blur_softens_the_object(scene):
    coco, root = scene
    layout = scene_layouts()[2]
    x0, y0, x1, y1 = layout.pixel_boxes()[0].round().astype(int)

    def sharpness(appearance):
        out = CopyPasteGenerator(coco, root, appearance=appearance).generate([layout], [1])[0]
        image = np.asarray(out.image)
        return cv2.Laplacian(image[y0 + 4:y1 - 4, x0 + 4:x1 - 4].astype(np.float32), cv2.CV_32F).std()

    sharp = sharpness(None)
    assert sharpness(dict(blur=1, blur_sigma=(1.5, 1.5))) < 0.7 * sharp
    assert sharpness(dict(motion_blur=1, motion_blur_length=(7, 7))) < 0.9 * sharp


def test_auto_ranges_span_the_crops_spread():
    def crop(grey):
        return ObjectCrop(image=Image.new('RGB', (4, 4), (grey,) * 3), label='a', image_id=1, ann_id=grey,
                          bbox=(0, 0, 4, 4))

    ranges = auto_colour_ranges([crop(50), crop(150)])
    # 10th / 90th percentiles of mean luma 50 and 150 are 60 and 140: (140 - 60) / (140 + 60)
    assert ranges['brightness'] == pytest.approx(0.4, abs=1e-3)
    assert ranges['contrast'] == 0 and ranges['saturation'] == 0
    assert auto_colour_ranges([crop(50)]) == dict(brightness=0.0, contrast=0.0, saturation=0.0)


def test_diverse_config_describes_a_valid_generator():
    from mmengine.config import Config
    base = Config.fromfile(str(REPO / 'configs/_base_/generation/copy-paste_fish4knowledge.py'))
    cfg = Config.fromfile(str(REPO / 'configs/_base_/generation/copy-paste_diverse_fish4knowledge.py'))
    generator = cfg.train_dataloader.dataset.generation.generator.to_dict()
    settings, _ = generator_settings(generator)
    assert Appearance.from_config(settings['appearance']).active and len(settings['blend']) > 1
    assert cfg.train_dataloader.dataset.data_root != base.train_dataloader.dataset.data_root
