"""Smoke test of `make bench`: the quick modes of the benchmarks that run on CPU in seconds."""
from __future__ import annotations

import json

from helpers import REPO, benchmark_module, run_tool

from mmgen_det.datasets import convert_dataset

RESULT_KEYS = {'benchmark', 'title', 'settings', 'measurements', 'rows', 'notes', 'machine', 'versions'}
ROW_KEYS = {'metric', 'value', 'target', 'met', 'note'}


def check_result(path) -> dict:
    res = json.loads(path.read_text())
    assert RESULT_KEYS <= set(res)
    assert res['rows'] and all(ROW_KEYS <= set(r) for r in res['rows'])
    assert res['versions']['torch'] and res['machine']['cores']
    return res


def test_generation_quick_compares_the_same_images(tmp_path):
    out = tmp_path / 'generation.json'
    run_tool(['benchmarks/bench_generation.py', '--quick', '--batch-sizes', '1', '2', '--steps', '2',
              '--no-profile', '--out', str(out)], timeout=120)
    res = check_result(out)
    per_b = res['measurements']['per_batch_size']
    assert [m['batch_size'] for m in per_b] == [1, 2]
    for m in per_b:
        assert m['speedup'] > 0 and m['batched_images_per_s'] > 0 and m['per_layout_images_per_s'] > 0
        assert m['max_abs_diff'] < 1e-4  # batched and per-layout diffusers give the same images
    same = [r for r in res['rows'] if r['metric'].endswith('same images (max abs diff, float [0,1])')]
    assert len(same) == 2 and all(r['met'] is True for r in same)
    assert any(r['value'].startswith('not measured: no CUDA') or 'cuda' in r['metric'] for r in res['rows'])
    assert res['settings']['torch_threads'] == 1


def test_resume_quick_finds_what_is_done(tmp_path):
    out = tmp_path / 'resume.json'
    run_tool(['benchmarks/bench_resume.py', '--quick', '--total', '2000', '--repeats', '1', '--out', str(out)],
             timeout=120)
    res = check_result(out)
    assert res['measurements']['found_done'] == 1980 and res['measurements']['to_do'] == 20
    assert res['measurements']['resume']['median_s'] > 0
    assert set(res['measurements']['breakdown_one_pass']) == {'read_s', 'json_parse_s', 'is_file_checks_s',
                                                               'listdir_s'}
    assert res['rows'][0]['met'] is None  # the < 2 s target applies to the 100,000-image run only


def test_cpu_recipe_speed_quick_compares_the_two_detectors_as_runs_start_them(tmp_path):
    """Both detectors derived from the same data: same batch and crop; the new one starts from the
    packaged ImageNet weights with its backbone frozen, the old one from scratch. No timing bound here:
    the ratio is the benchmark's to report."""
    out = tmp_path / 'speed.json'
    run_tool(['benchmarks/bench_cpu_recipe_speed.py', '--quick', '--out', str(out)], timeout=300)
    res = check_result(out)
    lite, r18 = res['measurements']['fcos-lite0'], res['measurements']['fcos-r18']
    assert lite['input_hw'] == r18['input_hw'] == [256, 256] and lite['batch'] == r18['batch'] == 4
    assert lite['backbone_init'].startswith('packaged://efficientnet-lite0 (') and r18['backbone_init'] == 'scratch'
    assert lite['trainable_params'] < r18['trainable_params'] / 10  # the Lite0 backbone is frozen
    assert res['measurements']['ratio'] > 0 and res['rows'][-1]['target'] == '>= 3x'


def test_bootstrap_quick_agrees_with_pycocotools_on_the_same_resamples(tmp_path):
    out = tmp_path / 'bootstrap.json'
    run_tool(['benchmarks/bench_bootstrap.py', '--quick', '--out', str(out)], timeout=300)
    res = check_result(out)
    assert res['measurements']['max_abs_diff'] <= 1e-6 and res['rows'][-1]['met'] is True
    assert res['measurements']['detections'] > 100 * 150  # the size of the split it claims to time
    assert res['measurements']['ratio'] > 0


def test_copy_paste_settings_picture_has_a_row_per_setting_and_each_changes_the_pixels(tmp_path):
    """The docs picture of the copy-paste settings: one row per setting and preset, the same layouts in
    each, and every setting changes the images of the plain generator."""
    import numpy as np
    from PIL import Image

    out = tmp_path / 'settings.jpg'
    run_tool(['benchmarks/copy_paste_settings.py', '--num-images', '2', '--tile', '96', '--out', str(out)], timeout=300)
    settings = benchmark_module('copy_paste_settings')
    names = list(settings.rows(settings.SETTINGS))
    assert Image.open(out).height % len(names) == 0 and 'preset copy-paste-scene' in names
    real = tmp_path / 'real'
    convert_dataset(REPO / 'data' / 'fish4knowledge-mini', 'yolo', real)
    sets = settings.make_sets(real, real / 'annotations' / 'train.json', 2, 0, tmp_path)

    def pixels(name: str) -> list[np.ndarray]:
        return [np.asarray(Image.open(p), np.int16) for p in sorted((sets[name] / 'images').iterdir())]

    plain = pixels('plain')
    unchanged = [name for name in names[1:] if all(np.array_equal(a, b) for a, b in zip(pixels(name), plain))]
    assert not unchanged
