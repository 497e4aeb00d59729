"""ObjectCropBank: crops are the exact source pixels, always RGB and upright, and draws are seeded."""
import numpy as np
import pytest
from PIL import Image

from mmgen_det.generation.crops import ObjectCropBank, coco_fingerprint, crop_region


def _coco(images, anns, names=('fish', 'crab')):
    """A COCO dict from ``[(file_name, w, h)]`` and ``[(image_id, category_name, xywh)]``."""
    cats = [dict(id=k + 1, name=n) for k, n in enumerate(names)]
    cat_id = {c['name']: c['id'] for c in cats}
    return dict(images=[dict(id=k + 1, file_name=f, width=w, height=h) for k, (f, w, h) in enumerate(images)],
                annotations=[dict(id=k + 1, image_id=i, category_id=cat_id[c], bbox=list(b), iscrowd=0)
                             for k, (i, c, b) in enumerate(anns)],
                categories=cats)


@pytest.fixture
def noise_image(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / 'a.png')
    return pixels


def test_crop_region_rounds_outwards_and_clips():
    assert crop_region([2.5, 3.2, 4.0, 5.0], 0.0, 100, 100) == (2, 3, 7, 9)
    assert crop_region([0, 0, 10, 10], 0.5, 12, 100) == (0, 0, 12, 15)


def test_crops_equal_source_pixels(tmp_path, noise_image):
    coco = _coco([('a.png', 60, 40)], [(1, 'fish', (5, 6, 10, 8)), (1, 'crab', (30, 10, 20, 25))])
    bank = ObjectCropBank.from_coco(coco, tmp_path)
    fish, = bank.crops('fish')
    crab, = bank.crops('crab')
    np.testing.assert_array_equal(np.asarray(fish.image), noise_image[6:14, 5:15])
    np.testing.assert_array_equal(np.asarray(crab.image), noise_image[10:35, 30:50])
    assert (fish.label, fish.image_id, fish.ann_id, fish.bbox, fish.mask) == ('fish', 1, 1, (5, 6, 10, 8), None)
    assert (fish.image.info['crop_id'], crab.image.info['crop_id']) == (1, 2)
    assert bank.classes == ['fish', 'crab']


def test_context_adds_margin(tmp_path, noise_image):
    coco = _coco([('a.png', 60, 40)], [(1, 'fish', (10, 10, 10, 10))])
    crop, = ObjectCropBank.from_coco(coco, tmp_path, context=0.2).crops('fish')
    np.testing.assert_array_equal(np.asarray(crop.image), noise_image[8:22, 8:22])


def test_grayscale_and_rgba_sources_become_rgb(tmp_path):
    Image.new('L', (20, 20), 77).save(tmp_path / 'gray.png')
    Image.new('RGBA', (20, 20), (10, 20, 30, 128)).save(tmp_path / 'rgba.png')
    coco = _coco([('gray.png', 20, 20), ('rgba.png', 20, 20)], [(1, 'fish', (2, 2, 8, 8)), (2, 'fish', (2, 2, 8, 8))])
    gray, rgba = ObjectCropBank.from_coco(coco, tmp_path).crops('fish')
    assert gray.image.mode == rgba.image.mode == 'RGB'
    assert gray.image.getpixel((0, 0)) == (77, 77, 77)
    assert rgba.image.getpixel((0, 0)) == (10, 20, 30)


def test_exif_orientation_is_applied(tmp_path):
    """A 40x20 file tagged 'rotate 90' is a 20x40 image to annotators: boxes refer to that."""
    raw = Image.new('RGB', (40, 20), (0, 0, 255))
    raw.paste((255, 0, 0), (0, 0, 20, 20))  # left half red in the raw file
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW to display
    raw.save(tmp_path / 'rot.jpg', exif=exif, quality=95)
    coco = _coco([('rot.jpg', 20, 40)], [(1, 'fish', (2, 2, 16, 16)), (1, 'crab', (2, 22, 16, 16))])
    bank = ObjectCropBank.from_coco(coco, tmp_path)
    top = np.asarray(bank.crops('fish')[0].image, float).mean((0, 1))
    bottom = np.asarray(bank.crops('crab')[0].image, float).mean((0, 1))
    assert top[0] > 200 and top[2] < 50  # raw left half is the upright top half
    assert bottom[2] > 200 and bottom[0] < 50


def test_declared_size_mismatch_names_the_file(tmp_path, noise_image):
    coco = _coco([('a.png', 61, 40)], [(1, 'fish', (5, 6, 10, 8))])
    with pytest.raises(ValueError, match=r'a\.png.*60x40.*61x40'):
        ObjectCropBank.from_coco(coco, tmp_path)


def test_too_small_crops_are_excluded_and_counted(tmp_path, noise_image):
    coco = _coco([('a.png', 60, 40)], [(1, 'fish', (5, 6, 10, 8)), (1, 'fish', (20, 20, 3, 10)),
                                       (1, 'crab', (30, 10, 2, 2)), (1, 'crab', (40, 10, 3, 3))])
    bank = ObjectCropBank.from_coco(coco, tmp_path, min_size=4)
    assert [c.ann_id for c in bank.crops('fish')] == [1]
    assert bank.too_small == {'fish': 1, 'crab': 2}
    with pytest.raises(ValueError, match=r"'crab' has no usable crops: 2 .*min_size=4"):
        bank.pick('crab', np.random.default_rng(0))


def test_unknown_class_lists_known_classes(tmp_path, noise_image):
    bank = ObjectCropBank.from_coco(_coco([('a.png', 60, 40)], [(1, 'fish', (5, 6, 10, 8))]), tmp_path)
    with pytest.raises(KeyError, match=r"unknown class 'shark'.*\['fish', 'crab'\]"):
        bank.pick('shark', np.random.default_rng(0))


def test_pick_is_seeded_and_prefers_matching_aspect(tmp_path, noise_image):
    boxes = [(0, 0, 20, 5), (0, 10, 20, 5), (30, 0, 5, 20), (40, 0, 5, 20), (50, 0, 8, 8)]
    bank = ObjectCropBank.from_coco(_coco([('a.png', 60, 40)], [(1, 'fish', b) for b in boxes]), tmp_path)

    def draw(seed, **kw):
        rng = np.random.default_rng(seed)
        return [bank.pick('fish', rng, **kw).ann_id for _ in range(20)]

    assert draw(3) == draw(3)
    assert set(draw(3)) == {1, 2, 3, 4, 5}
    assert set(draw(3, aspect=4.0)) == {1, 2}  # wide box: only wide crops
    assert set(draw(3, aspect=100.0)) == {1}  # none within the tolerance: the closest one


def test_segmentation_gives_a_mask(tmp_path, noise_image):
    coco = _coco([('a.png', 60, 40)], [(1, 'fish', (10, 10, 10, 10))])
    coco['annotations'][0]['segmentation'] = [[10, 10, 20, 10, 20, 15, 10, 15]]  # top half of the box
    crop, = ObjectCropBank.from_coco(coco, tmp_path).crops('fish')
    assert crop.mask.shape == (10, 10) and crop.mask.dtype == bool
    assert crop.mask[:4].all() and not crop.mask[7:].any()


def test_fingerprint_tracks_annotation_content():
    coco = _coco([('a.png', 60, 40)], [(1, 'fish', (5, 6, 10, 8))])
    same = dict(coco, info=dict(date='today'))
    moved = _coco([('a.png', 60, 40)], [(1, 'fish', (5, 6, 10, 9))])
    assert coco_fingerprint(coco) == coco_fingerprint(same) != coco_fingerprint(moved)
