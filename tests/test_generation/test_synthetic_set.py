"""generate_synthetic_set: exact set on disk, resumable, batch-size invariant, refuses mixed settings
(what determines the pixels: generator version, device class and dtype, model weights), not settings
that change no pixel (batch size, device index), and resumes a set moved with its work dir."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from synthetic_sets import CLASSES, assert_complete_set, assert_same_images

from mmgen_det.generation import generate_synthetic_set
from mmgen_det.generation import writer as writer_mod
from mmgen_det.generation.synthetic_set import pixel_settings
from mmgen_det.generation.writer import SetLock, SetLockedError, SettingsMismatchError
from mmgen_det.layouts import build_layout_sampler
from mmgen_det.testing.tiny_gligen import save_tiny_gligen


def copy_paste_cfg(fish_coco: Path, out_dir: Path, num_images: int = 12, batch_size: int = 4,
                   seed: int = 0) -> dict:
    ann = str(fish_coco / 'annotations' / 'train.json')
    return dict(out_dir=str(out_dir), num_images=num_images, seed=seed, batch_size=batch_size,
                image_format='png',
                layout=dict(ann_file=ann, strategy='jitter', width=360, height=200, min_box_cells=0.5),
                generator=dict(type='copy_paste', ann_file=ann, img_root=str(fish_coco)))


def gligen_cfg(fish_coco: Path, model_dir: Path, out_dir: Path, num_images: int = 4, batch_size: int = 2,
               **generator) -> dict:
    """Tiny GLIGEN, 64x64, 2 steps."""
    ann = str(fish_coco / 'annotations' / 'train.json')
    return dict(out_dir=str(out_dir), num_images=num_images, seed=3, batch_size=batch_size, image_format='png',
                layout=dict(ann_file=ann, strategy='jitter', width=64, height=64, zoom=(2.0, 3.0), min_box_cells=0.5),
                generator=dict(type='gligen', model=str(model_dir), grounding='text-box',
                               prompt='an underwater photo of {phrases}',
                               phrases={c: f'a fish of species {c}' for c in CLASSES}, num_inference_steps=2,
                               scheduled_sampling_beta=1.0, **generator))


def interrupted(cfg: dict, after: int, monkeypatch) -> None:
    """Run the generation and kill it once ``after`` images are written."""
    real_write = writer_mod.SyntheticSetWriter.write
    calls = {'n': 0}

    def crash(self, *args, **kwargs):
        if calls['n'] == after:
            raise KeyboardInterrupt('simulated kill')
        calls['n'] += 1
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(writer_mod.SyntheticSetWriter, 'write', crash)
    with pytest.raises(KeyboardInterrupt):
        generate_synthetic_set(cfg, progress=False)
    monkeypatch.undo()


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
    interrupted(cfg2, 5, monkeypatch)
    set_dir = tmp_path / 'set'
    assert not (set_dir / 'annotations.json').exists()
    # a crash mid-append leaves a torn manifest line, and the image it was for in its temporary file
    with open(set_dir / 'manifest.jsonl', 'a') as f:
        f.write('{"index": 11, "file_na')
    Image.new('RGB', (360, 200)).save(set_dir / 'images' / '.tmp-000000011.png.x1y2', format='PNG')

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


def test_a_set_started_by_another_layout_sampler_refuses_to_mix(fish_coco, tmp_path, monkeypatch):
    import mmgen_det.generation.synthetic_set as synthetic_set
    cfg = copy_paste_cfg(fish_coco, tmp_path / 'set', num_images=2)
    generate_synthetic_set(cfg, progress=False)
    monkeypatch.setattr(synthetic_set, 'LAYOUT_VERSION', synthetic_set.LAYOUT_VERSION + 1)
    cfg['num_images'] = 3
    with pytest.raises(SettingsMismatchError, match='layout_version'):
        generate_synthetic_set(cfg, progress=False)


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


@pytest.fixture(scope='module')
def gligen_reference(fish_coco, tiny_gligen_dir, tmp_path_factory) -> dict:
    cfg = gligen_cfg(fish_coco, tiny_gligen_dir('text-box'), tmp_path_factory.mktemp('gligen_ref') / 'set',
                     batch_size=1, device='cpu')
    generate_synthetic_set(cfg, progress=False)
    return cfg


def test_resume_on_another_device_class_refuses_before_loading(gligen_reference, fish_coco, tiny_gligen_dir,
                                                                 tmp_path, monkeypatch):
    """float32 on a CPU and float16 on a GPU give other images: a set started on one is not finished
    on the other; a complete set, which generates nothing, is read anywhere."""
    cfg = gligen_cfg(fish_coco, tiny_gligen_dir('text-box'), tmp_path / 'set', device='auto')
    interrupted(cfg, 1, monkeypatch)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)  # the same command on a GPU machine
    with pytest.raises(SettingsMismatchError) as error:  # raised before the model would move to CUDA
        generate_synthetic_set(cfg, progress=False)
    assert "placement.device: 'cpu' (on disk) != 'cuda' (now)" in str(error.value)
    assert "placement.dtype: 'float32' (on disk) != 'float16' (now)" in str(error.value)
    assert 'Resume it with the settings in its generation_config.json' in str(error.value)
    monkeypatch.undo()
    assert generate_synthetic_set(cfg, progress=False).generated_now == 3
    assert_same_images(Path(gligen_reference['out_dir']), tmp_path / 'set')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert generate_synthetic_set(cfg, progress=False).already_done == 4


def test_resume_with_other_weights_refuses(fish_coco, tiny_gligen_dir, tmp_path, monkeypatch):
    """Other weights under the same model path are another model."""
    model = shutil.copytree(tiny_gligen_dir('text-box'), tmp_path / 'model')
    cfg = gligen_cfg(fish_coco, model, tmp_path / 'set', device='cpu')
    interrupted(cfg, 1, monkeypatch)
    shutil.rmtree(model)
    save_tiny_gligen(model, 'text-box', seed=1)
    before = (tmp_path / 'set' / 'manifest.jsonl').read_bytes()
    with pytest.raises(SettingsMismatchError, match=r'identity\.weights: '):
        generate_synthetic_set(cfg, progress=False)
    assert (tmp_path / 'set' / 'manifest.jsonl').read_bytes() == before


def test_batch_size_and_device_spelling_do_not_refuse(gligen_reference, fish_coco, tiny_gligen_dir, tmp_path,
                                                      monkeypatch):
    """Neither the batch size (GLIGEN's own included) nor how the device is named changes the images."""
    cfg = gligen_cfg(fish_coco, tiny_gligen_dir('text-box'), tmp_path / 'set', batch_size=3, device='auto')
    cfg['generator']['batch_size'] = 2
    with pytest.warns(FutureWarning, match='generation.generator.batch_size is deprecated'):
        interrupted(cfg, 2, monkeypatch)
    resumed = gligen_cfg(fish_coco, tiny_gligen_dir('text-box'), tmp_path / 'set', batch_size=1, device='cpu')
    summary = generate_synthetic_set(resumed, progress=False)
    assert (summary.already_done, summary.generated_now, summary.batch_size) == (2, 2, 1)
    assert_same_images(Path(gligen_reference['out_dir']), tmp_path / 'set')


def test_pixel_settings_leave_out_batch_size_and_device_index(fish_coco, tmp_path):
    """What an experiment's generate stage is keyed by."""
    def settings(**generator):
        return pixel_settings(gligen_cfg(fish_coco, tmp_path / 'model', tmp_path / 'set', **generator))
    on_gpu0 = settings(device='cuda:0', batch_size=8)
    assert on_gpu0 == settings(device='cuda:1', batch_size=2) == settings(device='cuda')
    assert on_gpu0['placement'] == dict(device='cuda', dtype='float16')
    assert on_gpu0 != settings(device='cuda:0', dtype='float32')
    assert on_gpu0 != settings(device='cpu')
    assert on_gpu0['generator']['version'] == 1 and 'batch_size' not in on_gpu0['generator']


def test_generator_batch_size_is_deprecated_and_the_smaller_is_used(fish_coco, tmp_path):
    cfg = copy_paste_cfg(fish_coco, tmp_path / 'set', num_images=3, batch_size=4)
    cfg['generator']['batch_size'] = 2
    with pytest.warns(FutureWarning, match=r'set generation.batch_size only.*\(using 2\)'):
        assert generate_synthetic_set(cfg, progress=False).batch_size == 2


def test_moved_work_dir_resumes(reference_set, fish_coco, tmp_path, monkeypatch):
    """Paths inside the work dir are stored relative to the set: a moved unfinished set resumes."""
    ref_cfg, ref_out = reference_set
    shutil.copytree(fish_coco, tmp_path / 'work' / 'data')

    def cfg_in(work: Path) -> dict:
        return copy_paste_cfg(work / 'data', work / 'synthetic' / 'set', batch_size=4)
    interrupted(cfg_in(tmp_path / 'work'), 5, monkeypatch)
    stored = (tmp_path / 'work' / 'synthetic' / 'set' / 'generation_config.json').read_text()
    assert str(tmp_path) not in stored and '../../data/annotations/train.json' in stored
    (tmp_path / 'work').rename(tmp_path / 'moved')
    summary = generate_synthetic_set(cfg_in(tmp_path / 'moved'), progress=False)
    assert (summary.already_done, summary.generated_now) == (5, 7)
    out = tmp_path / 'moved' / 'synthetic' / 'set'
    assert_complete_set(out, 12)
    ref, got = pixels(ref_out, read_set(ref_out)), pixels(out, read_set(out))
    for k in ref:
        np.testing.assert_array_equal(ref[k], got[k])
