"""generate_synthetic_set: exact set on disk, resumable, batch-size invariant, refuses mixed settings."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmgen_det.generation import generate_synthetic_set
from mmgen_det.generation import writer as writer_mod
from mmgen_det.generation.writer import SetLock, SetLockedError, SettingsMismatchError
from mmgen_det.layouts import build_layout_sampler


def copy_paste_cfg(fish_coco: Path, out_dir: Path, num_images: int = 12, batch_size: int = 4,
                   seed: int = 0) -> dict:
    ann = str(fish_coco / 'annotations' / 'train.json')
    return dict(out_dir=str(out_dir), num_images=num_images, seed=seed, batch_size=batch_size,
                image_format='png',
                layout=dict(ann_file=ann, strategy='jitter', width=360, height=200, min_box_cells=0.5),
                generator=dict(type='copy_paste', ann_file=ann, img_root=str(fish_coco)))


def read_set(out_dir: Path) -> dict:
    return json.loads((out_dir / 'annotations.json').read_text())


def pixels(out_dir: Path, coco: dict) -> dict[int, np.ndarray]:
    return {im['id']: np.asarray(Image.open(out_dir / im['file_name'])) for im in coco['images']}


@pytest.fixture(scope='module')
def reference_set(fish_coco, tmp_path_factory) -> tuple[dict, Path]:
    cfg = copy_paste_cfg(fish_coco, tmp_path_factory.mktemp('ref') / 'set', batch_size=1)
    generate_synthetic_set(cfg, progress=False)
    return cfg, Path(cfg['out_dir'])


def test_set_matches_layouts(reference_set):
    cfg, out = reference_set
    coco = read_set(out)
    assert sorted(im['id'] for im in coco['images']) == list(range(12))
    cats = {c['id']: c['name'] for c in coco['categories']}
    assert list(cats.values()) == ['0', '1', '2', '5', '6', '7', '8']
    sampler = build_layout_sampler(dict(cfg['layout'], seed=cfg['seed']))
    for im in coco['images']:
        layout = sampler.sample(im['id'])
        anns = [a for a in coco['annotations'] if a['image_id'] == im['id']]
        xyxy = np.array([[x, y, x + w, y + h] for x, y, w, h in (a['bbox'] for a in anns)]).reshape(-1, 4)
        np.testing.assert_allclose(xyxy, layout.pixel_boxes(), atol=1e-3)
        assert [cats[a['category_id']] for a in anns] == list(layout.labels)
        assert (im['width'], im['height']) == (360, 200)
        assert Image.open(out / im['file_name']).size == (360, 200)
        assert im['generation']['generator'] == 'copy_paste' and 'seed' in im['generation']
    assert len({a['id'] for a in coco['annotations']}) == len(coco['annotations'])


def test_batch_size_does_not_change_images(reference_set, fish_coco, tmp_path):
    cfg, out = reference_set
    other = copy_paste_cfg(fish_coco, tmp_path / 'b4', batch_size=4)
    generate_synthetic_set(other, progress=False)
    ref, got = pixels(out, read_set(out)), pixels(tmp_path / 'b4', read_set(tmp_path / 'b4'))
    assert ref.keys() == got.keys()
    for k in ref:
        np.testing.assert_array_equal(ref[k], got[k])


def test_interrupted_run_resumes_to_the_same_set(reference_set, fish_coco, tmp_path, monkeypatch):
    cfg, out = reference_set
    cfg2 = copy_paste_cfg(fish_coco, tmp_path / 'set', batch_size=4)
    real_write = writer_mod.SyntheticSetWriter.write
    calls = {'n': 0}

    def crash_after_five(self, *args, **kwargs):
        if calls['n'] == 5:
            raise KeyboardInterrupt('simulated kill')
        calls['n'] += 1
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(writer_mod.SyntheticSetWriter, 'write', crash_after_five)
    with pytest.raises(KeyboardInterrupt):
        generate_synthetic_set(cfg2, progress=False)
    monkeypatch.undo()
    set_dir = tmp_path / 'set'
    assert not (set_dir / 'annotations.json').exists()
    # a crash mid-append leaves a torn manifest line, and an image without a manifest line
    with open(set_dir / 'manifest.jsonl', 'a') as f:
        f.write('{"index": 11, "file_na')
    Image.new('RGB', (360, 200)).save(set_dir / 'images' / '000000010.png')

    summary = generate_synthetic_set(cfg2, progress=False)
    assert summary.already_done == 5 and summary.generated_now == 7 and summary.repaired_lines == 1
    coco = read_set(set_dir)
    assert sorted(im['id'] for im in coco['images']) == list(range(12))
    files = sorted(p.name for p in (set_dir / 'images').iterdir())
    assert files == [f'{i:09d}.png' for i in range(12)], 'orphans or temp files left behind'
    ref, got = pixels(out, read_set(out)), pixels(set_dir, coco)
    for k in ref:
        np.testing.assert_array_equal(ref[k], got[k])
    lines = (set_dir / 'manifest.jsonl').read_text().splitlines()
    assert len(lines) == 12 and all(json.loads(line) for line in lines)


def test_complete_set_is_not_regenerated_and_can_be_extended(reference_set, fish_coco, tmp_path):
    cfg = copy_paste_cfg(fish_coco, tmp_path / 'set', num_images=6)
    assert generate_synthetic_set(cfg, progress=False).generated_now == 6
    assert generate_synthetic_set(cfg, progress=False).generated_now == 0
    cfg['num_images'] = 9
    summary = generate_synthetic_set(cfg, progress=False)
    assert summary.generated_now == 3 and summary.already_done == 6
    assert len(read_set(tmp_path / 'set')['images']) == 9


def test_other_settings_refuse_to_mix(fish_coco, tmp_path):
    cfg = copy_paste_cfg(fish_coco, tmp_path / 'set', num_images=2)
    generate_synthetic_set(cfg, progress=False)
    before = (tmp_path / 'set' / 'manifest.jsonl').read_bytes()
    cfg['seed'] = 1
    with pytest.raises(SettingsMismatchError, match=r'seed: 0 \(on disk\) != 1 \(now\)'):
        generate_synthetic_set(cfg, progress=False)
    assert (tmp_path / 'set' / 'manifest.jsonl').read_bytes() == before


def test_concurrent_run_on_the_same_folder_refuses(fish_coco, tmp_path):
    cfg = copy_paste_cfg(fish_coco, tmp_path / 'set', num_images=2)
    with SetLock(tmp_path / 'set'):  # another run holds the folder
        with pytest.raises(SetLockedError, match='being written by another generation run'):
            generate_synthetic_set(cfg, progress=False)
    assert not (tmp_path / 'set' / 'manifest.jsonl').exists()
    generate_synthetic_set(cfg, progress=False)  # once released, it runs


def test_torn_lines_are_recognised_wherever_they_are():
    from mmgen_det.generation.writer import is_whole_line
    whole = b'{"index": 3, "file_name": "images/000000003.png", "layout": {"index": 3}}\n'
    assert is_whole_line(whole)[1] == b'3'
    assert is_whole_line(whole[:-1]) is None  # crash before the newline
    assert is_whole_line(whole[:30] + whole) is None  # another rank appended after a torn line
    assert is_whole_line(b'{"index": 3, "file_na\n') is None
