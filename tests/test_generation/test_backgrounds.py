"""Backgrounds: medians per camera and inpainting remove objects; picks fit the target size."""
import numpy as np
import pytest
from PIL import Image

from mmgen_det.generation.backgrounds import (BackgroundBank, aspect_area, box_mask, group_cameras, inpaint,
                                              largest_free_rectangle, masked_median, random_aspect_crop, thumbnail)

OBJECT = (255, 0, 255)  # a colour no scene below contains


def _scene(seed, width=64, height=48):
    """A smooth static texture (a fixed camera's view)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 200, (6, 8, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC))


def _write_set(tmp_path, frames, boxes):
    """Save ``frames`` as PNGs and return a COCO dict whose image ``k`` has ``boxes[k]`` (xywh)."""
    images, anns = [], []
    for k, (frame, frame_boxes) in enumerate(zip(frames, boxes)):
        Image.fromarray(frame).save(tmp_path / f'{k}.png')
        images.append(dict(id=k + 1, file_name=f'{k}.png', width=frame.shape[1], height=frame.shape[0]))
        anns += [dict(id=len(anns) + 1, image_id=k + 1, category_id=1, bbox=list(b)) for b in frame_boxes]
    return dict(images=images, annotations=anns, categories=[dict(id=1, name='fish')])


def _frames_with_objects(scene, n, seed=0, noise=3):
    """``n`` noisy frames of ``scene``, each with an 8x8 object at a different place, and its box."""
    rng = np.random.default_rng(seed)
    frames, boxes = [], []
    for k in range(n):
        frame = np.clip(scene.astype(int) + rng.integers(-noise, noise + 1, scene.shape), 0, 255).astype(np.uint8)
        x, y = 4 + 7 * k, 4 + 5 * k
        frame[y:y + 8, x:x + 8] = OBJECT
        frames.append(frame)
        boxes.append([(x, y, 8, 8)])
    return frames, boxes


def test_masked_median_matches_numpy_median():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (7, 70, 5, 3), dtype=np.uint8)
    masks = rng.random((7, 70, 5)) < 0.5
    masks[:, 0, 0] = True
    median, hole = masked_median(frames, masks, rows_per_chunk=16)
    for y, x in [(0, 1), (13, 2), (69, 4), (40, 0)]:
        valid = frames[~masks[:, y, x], y, x].astype(float)
        expected = np.floor(np.median(valid, axis=0) + 0.5) if len(valid) else 0
        np.testing.assert_array_equal(median[y, x], expected)
    assert hole[0, 0] and hole.sum() == (masks.all(axis=0)).sum()


def test_box_mask_grows_boxes():
    mask = box_mask(50, 50, [(20, 20, 10, 10)], margin=0.2)
    assert mask[18:32, 18:32].all() and mask.sum() == 14 * 14


def test_median_background_removes_objects(tmp_path):
    scene = _scene(1)
    frames, boxes = _frames_with_objects(scene, 7)
    frames[3][30:36, 2:8] = (0, 255, 0)  # an unlabelled object, seen in one frame only
    bank = BackgroundBank.from_coco(_write_set(tmp_path, frames, boxes), tmp_path, method='median', min_frames=5)
    assert [s.method for s in bank.sources] == ['median']
    diff = np.abs(bank.image(0).astype(int) - scene)
    assert diff.max() <= 4 and diff.mean() < 1.5
    assert all(np.abs(f.astype(int) - scene).max() > 100 for f in frames)


def test_pixels_masked_in_every_frame_are_inpainted(tmp_path):
    scene = _scene(2)
    frames, _ = _frames_with_objects(scene, 5)
    for f in frames:
        f[20:28, 30:38] = OBJECT  # a resting object: labelled, at the same place in every frame
    bank = BackgroundBank.from_coco(_write_set(tmp_path, frames, [[(30, 20, 8, 8)]] * 5), tmp_path,
                                    method='median', min_frames=5)
    assert not (bank.image(0)[20:28, 30:38] == OBJECT).all(axis=-1).any()


def test_group_cameras_separates_scenes():
    a, b, a_small = _scene(1), _scene(2), _scene(1, 32, 24)
    frames = [a, b, a, b, a_small, a]
    rng = np.random.default_rng(0)
    noisy = [np.clip(f.astype(int) + rng.integers(-4, 5, f.shape), 0, 255).astype(np.uint8) for f in frames]
    thumbs = np.stack([thumbnail(Image.fromarray(f)) for f in noisy])
    sizes = [f.shape[1::-1] for f in noisy]
    assert group_cameras(sizes, thumbs) == [[0, 2, 5], [1, 3], [4]]


def test_camera_grouping_from_coco(tmp_path):
    frames_a, boxes_a = _frames_with_objects(_scene(1), 5)
    frames_b, boxes_b = _frames_with_objects(_scene(2), 2, seed=1)
    bank = BackgroundBank.from_coco(_write_set(tmp_path, frames_a + frames_b, boxes_a + boxes_b), tmp_path,
                                    min_frames=5)
    assert bank.cameras == [[1, 2, 3, 4, 5], [6, 7]]
    assert [(s.method, s.image_ids) for s in bank.sources] == [
        ('median', (1, 2, 3, 4, 5)), ('inpaint', (6,)), ('inpaint', (7,))]
    _, record = bank.pick(np.random.default_rng(0), 32, 32, image_id=7)
    assert record['camera'] == 1 and record['method'] == 'inpaint'


def test_median_needs_enough_frames(tmp_path):
    frames, boxes = _frames_with_objects(_scene(1), 3)
    with pytest.raises(ValueError, match=r'camera group sizes are \[3\].*min_frames=5'):
        BackgroundBank.from_coco(_write_set(tmp_path, frames, boxes), tmp_path, method='median')
    with pytest.raises(ValueError, match=r'1 images are more than max_inpaint_fraction=0.15'):
        BackgroundBank.from_coco(_write_set(tmp_path, frames[:1], [[(0, 0, 40, 40)]]), tmp_path, method='inpaint')


def test_inpaint_fills_labelled_region(tmp_path):
    scene = _scene(3)
    frame = scene.copy()
    frame[15:25, 20:32] = OBJECT
    np.testing.assert_array_equal(inpaint(frame, frame.sum(-1) < 0), frame)  # empty mask: unchanged
    bank = BackgroundBank.from_coco(_write_set(tmp_path, [frame], [[(20, 15, 12, 10)]]), tmp_path, method='inpaint')
    filled = bank.image(0).astype(int)
    box = filled[15:25, 20:32]
    assert (box[..., 0] - box[..., 1]).max() < 60 and (box[..., 2] - box[..., 1]).max() < 60  # no magenta left
    assert np.abs(box - scene[15:25, 20:32]).mean() < 40
    np.testing.assert_array_equal(filled[:10], frame[:10])  # far from the box: untouched


def test_largest_free_rectangle():
    mask = np.zeros((30, 50), bool)
    assert largest_free_rectangle(mask) == (0, 0, 50, 30)
    mask[:, 10:20] = True  # a column: the free part right of it is the larger
    assert largest_free_rectangle(mask) == (20, 0, 50, 30)
    mask[12:, 20:] = True  # ... until a block below shrinks it; left of the column: 10 x 30
    assert largest_free_rectangle(mask) == (20, 0, 50, 12)
    mask[:12, 25] = True  # the frame-shaped window that fits is what counts, not the area: not 10 x 30
    assert largest_free_rectangle(mask) == (26, 0, 50, 12)
    assert largest_free_rectangle(np.ones((8, 8), bool)) == (0, 0, 0, 0)
    # a large frame is searched on a coarse grid: the window stays free, and near the true one
    big = np.zeros((1080, 1920), bool)
    big[100:900, 300:1500] = True
    x0, y0, x1, y1 = largest_free_rectangle(big)
    assert not big[y0:y1, x0:x1].any() and (x1 - x0) * (y1 - y0) >= 0.9 * 1080 * 420


def test_photos_filled_by_their_objects_give_object_free_crops(tmp_path):
    """One scene per photo, its object filling most of it (no median, too much to inpaint): 'auto'
    takes the largest rectangle no dilated box touches, and no object pixel reaches a background."""
    frames, boxes = [], []
    for k in range(4):
        frame = _scene(10 + k, 96, 72).copy()
        x, y, w, h = 8 + 4 * k, 6, 40, 30  # grown by box_mask's margin: 30% of the frame
        frame[y:y + h, x:x + w] = OBJECT
        frames.append(frame)
        boxes.append([(x, y, w, h)])
    frames.append(np.full((72, 96, 3), OBJECT, np.uint8))  # wholly covered: no free rectangle
    boxes.append([(0, 0, 96, 72)])
    coco = _write_set(tmp_path, frames, boxes)
    with pytest.raises(ValueError, match='min_crop_fraction'):
        BackgroundBank.from_coco(coco, tmp_path, method='inpaint')
    bank = BackgroundBank.from_coco(coco, tmp_path)
    assert [(s.method, s.image_ids) for s in bank.sources] == [('crop', (k + 1,)) for k in range(4)]
    rng = np.random.default_rng(0)
    for image_id in (None, 1, 2, 3, 4, 5):  # a layout's window of its frame does not apply to a crop
        image, record = bank.pick(rng, 64, 48, image_id=image_id, window=[0.0, 0.0, 1.0, 1.0])
        assert image_id in (None, 5) or record['image_ids'] == [image_id]
        x0, y0, x1, y1 = record['window']
        assert record['method'] == 'crop' and aspect_area(x1 - x0, y1 - y0, 96 / 72) >= 0.1 * 96 * 72
        assert image.size == (64, 48) and not (np.asarray(image) == OBJECT).all(-1).any()
    with pytest.raises(ValueError, match=r'5 images are more than .* min_crop_fraction=0.5'):
        BackgroundBank.from_coco(coco, tmp_path, min_crop_fraction=0.5)


def test_random_aspect_crop_keeps_target_aspect():
    rng = np.random.default_rng(0)
    for target in [(512, 512), (100, 50), (30, 90)]:
        x0, y0, x1, y1 = random_aspect_crop((360, 202), target, rng)
        assert 0 <= x0 < x1 <= 360 and 0 <= y0 < y1 <= 202
        assert abs((x1 - x0) / (y1 - y0) - target[0] / target[1]) < 0.02
        assert (x1 - x0) == 360 or (y1 - y0) == 202  # as large as the aspect allows
    assert random_aspect_crop((360, 202), (360, 202), rng) == (0, 0, 360, 202)


def test_pick_fits_target_size_and_is_seeded(tmp_path):
    frames, boxes = _frames_with_objects(_scene(1), 5)
    bank = BackgroundBank.from_coco(_write_set(tmp_path, frames, boxes), tmp_path)
    image, record = bank.pick(np.random.default_rng(5), 40, 80)
    again, record_again = bank.pick(np.random.default_rng(5), 40, 80)
    assert image.size == (40, 80) and image.mode == 'RGB'
    assert image.tobytes() == again.tobytes() and record == record_again
    assert record == dict(method='median', camera=0, num_frames=5, crop=record['crop'])


def test_pick_cuts_a_given_window_of_the_same_camera(tmp_path):
    frames_a, boxes_a = _frames_with_objects(_scene(1), 5)
    frames_b, boxes_b = _frames_with_objects(_scene(2), 2, seed=1)
    bank = BackgroundBank.from_coco(_write_set(tmp_path, frames_a + frames_b, boxes_a + boxes_b), tmp_path,
                                    min_frames=5)
    window = [0.25, 0.5, 0.75, 1.0]  # of a 64 x 48 frame: 32 x 24 px
    image, record = bank.pick(np.random.default_rng(0), 64, 48, image_id=2, window=window)
    assert record['camera'] == 0 and record['crop'] == [16.0, 24.0, 48.0, 48.0]
    expected = Image.fromarray(bank.image(0)).crop((16, 24, 48, 48)).resize((64, 48), Image.Resampling.BICUBIC)
    assert np.abs(np.asarray(image, int) - np.asarray(expected, int)).mean() < 2
    # without a camera match the window means nothing: a random crop of the target's aspect, as before
    _, unmatched = bank.pick(np.random.default_rng(0), 64, 48, window=window)
    assert unmatched == bank.pick(np.random.default_rng(0), 64, 48)[1]


def test_unknown_method_is_refused(tmp_path):
    with pytest.raises(ValueError, match='auto'):
        BackgroundBank.from_coco(dict(images=[], annotations=[], categories=[]), tmp_path, method='blur')
