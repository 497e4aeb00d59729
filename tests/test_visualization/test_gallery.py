"""The gallery's files: exported data (unrounded scores, safe seeds, real side), resumable thumbnails."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image

from mmgen_det.visualization.gallery import build_gallery, real_source
from mmgen_det.visualization.thumbnails import ImageJob, Output, make_thumbnails

from gallery_sets import DETECTED, EMPTY_IMAGE, FALSE_POSITIVE, KEY_A, KEY_B, NUM_IMAGES, PR_A


def read_data(out: Path) -> dict:
    text = (out / 'data.js').read_text()
    prefix = 'window.GALLERY_DATA = '
    assert text.startswith(prefix) and text.endswith(';\n')
    return json.loads(text[len(prefix):-2])


@pytest.fixture(scope='module')
def gallery(scored_set, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('gallery_out') / 'html'
    build_gallery(scored_set, out, workers=2, progress=False)
    return out


def test_page_and_data_files(gallery, scored_set, fish_coco):
    data = read_data(gallery)
    page_files = {'index.html', 'gallery.js', 'gallery.css', 'data.js', 'thumbs', 'crops'}
    assert {p.name for p in gallery.iterdir()} >= page_files
    assert len(data['images']) == NUM_IMAGES and data['classes'] == ['0', '1', '2', '5', '6', '7', '8']
    # scores exactly as stored: the page's keep rule compares them with thresholds
    assert [im['pr'][KEY_A]['p'] for im in data['images']] == [p for p, _ in PR_A]
    assert data['images'][EMPTY_IMAGE]['boxes'] == []
    first = data['images'][0]
    assert isinstance(first['gen']['seed'], str) and int(first['gen']['seed']) > 2 ** 53  # JS would round it
    assert (gallery / first['file']).resolve() == (scored_set / 'images' / '000000000.jpg').resolve()
    with Image.open(gallery / first['thumb']) as thumb:
        assert max(thumb.size) == 256
    # the real side comes from the set's generation_config.json: the layouts' source and the crops' root
    real = data['real']
    assert real['ann_file'] == str((fish_coco / 'annotations' / 'train.json').resolve())
    train = json.loads((fish_coco / 'annotations' / 'train.json').read_text())
    assert sum(map(len, real['sizes'])) == len(train['annotations'])
    layout_frame = first['gen']['layout_source']['image_id']
    assert (gallery / real['frames'][str(layout_frame)]).is_file()
    for kind in ('real', 'synthetic'):
        crops = [c for strip in data['crops'][kind] for c in strip]
        assert crops and all((gallery / c['src']).is_file() for c in crops)


def test_stored_detections_are_exported_where_there_are_any(gallery, scored_set):
    data = read_data(gallery)
    coco = json.loads((scored_set / 'annotations.json').read_text())
    for image, entry in zip(coco['images'], data['images']):
        if image['id'] not in DETECTED:  # records without detections: nothing to draw, no empty list either
            assert 'dets' not in entry['pr'][KEY_A] and 'dets' not in entry['pr'][KEY_B]
            continue
        x, y, w, h = next(a['bbox'] for a in coco['annotations'] if a['image_id'] == image['id'])
        # [x1, y1, x2, y2, class, score, layout box or -1], as stored
        assert entry['pr'][KEY_A]['dets'] == [[x, y, x + w, y + h, '0', 0.87, 0], [*FALSE_POSITIVE, '1', 0.412, -1]]
        assert 'dets' not in entry['pr'][KEY_B]


def test_thumbnails_are_made_once_and_remade_when_stale_or_missing(scored_set, tmp_path):
    out = tmp_path / 'html'
    build_gallery(scored_set, out, workers=1, progress=False)
    assert len(list(out.glob('thumbs/*.jpg'))) == NUM_IMAGES
    again = make_jobs(scored_set, out)
    assert make_thumbnails(again, workers=1, progress=False).made == 0
    (out / 'thumbs' / '3.jpg').unlink()
    src = scored_set / 'images' / '000000005.jpg'
    stat = src.stat()
    os.utime(out / 'thumbs' / '5.jpg', (stat.st_atime, stat.st_mtime - 10))  # older than its image
    redo = make_thumbnails(again, workers=2, progress=False)
    assert (redo.made, redo.already_done) == (2, NUM_IMAGES - 2)
    assert not list(out.rglob('.tmp-*'))


def make_jobs(set_dir: Path, out: Path) -> list[ImageJob]:
    return [ImageJob(str(set_dir / 'images' / f'{i:09d}.jpg'), (Output(str(out / 'thumbs' / f'{i}.jpg'), 256),))
            for i in range(NUM_IMAGES)]


def test_unreadable_images_are_reported_not_fatal(tmp_path):
    good, bad = tmp_path / 'good.png', tmp_path / 'bad.png'
    Image.new('RGB', (40, 30), (10, 20, 30)).save(good)
    bad.write_bytes(b'not an image')
    jobs = [ImageJob(str(good), (Output(str(tmp_path / 't' / 'good.jpg'), 16), Output(str(tmp_path / 't' / 'c.jpg'), 16,
                                                                                       (5, 5, 10, 10)))),
            ImageJob(str(bad), (Output(str(tmp_path / 't' / 'bad.jpg'), 16),))]
    summary = make_thumbnails(jobs, workers=1, progress=False)
    assert summary.made == 1 and list(summary.failed) == [str(bad)]
    assert Image.open(tmp_path / 't' / 'good.jpg').size == (16, 12)
    assert Image.open(tmp_path / 't' / 'c.jpg').size == (14, 14)  # the box with its margin


def test_real_source_given_or_recorded(scored_set, fish_coco, tmp_path):
    recorded = real_source(scored_set)
    assert recorded.recorded and recorded.root == fish_coco.resolve()
    other = real_source(scored_set, fish_coco / 'annotations' / 'val.json')
    assert not other.recorded and other.root == fish_coco.resolve()
    with pytest.raises(FileNotFoundError, match='--real'):
        real_source(scored_set, tmp_path / 'missing.json')
    assert real_source(tmp_path) is None  # no generation_config.json, nothing given
