"""Settings derived from the data: input scale and crop, canvas, phrases, classes of every head."""
from __future__ import annotations

import re
import warnings

import pytest
from helpers import REPO

from mmgen_det.datasets.profile import DataProfile
from mmgen_det.recipes import (DETECTORS, MIN_OBJECT_SIDE, ClassMismatchError, check_classes, detector_config,
                               generation_canvas, gligen_phrases, heads_with_classes, input_scale)


def profile(width: int, height: int, p10: float, classes=('a', 'b')) -> DataProfile:
    return DataProfile(classes=tuple(classes), num_images=10, num_boxes=40, frame_width=width, frame_height=height,
                       object_side_p10=p10, object_side_p50=p10 * 2, object_side_p90=p10 * 4,
                       boxes_per_image_p50=4, boxes_per_image_max=9, boxes_per_class=(20, 20))


def test_small_objects_are_upscaled_and_cropped_on_cpu():
    s = input_scale(profile(360, 202, 7), 'cpu')
    assert 7 * s.factor >= MIN_OBJECT_SIDE['cpu'] - 0.5
    assert s.scale == (round(360 * s.factor), round(202 * s.factor))
    assert s.train_crop is not None and max(s.train_crop) <= 256
    assert not s.warnings


def test_1080p_frames_are_not_trained_full_size_on_cpu():
    s = input_scale(profile(1920, 1080, 60), 'cpu')
    assert max(s.scale) <= 960 and s.factor < 1
    assert 60 * s.factor >= MIN_OBJECT_SIDE['cpu']


def test_tiny_objects_in_large_frames_warn():
    s = input_scale(profile(1920, 1080, 4), 'cpu')
    assert max(s.scale) <= 960
    assert s.warnings and '4 px' in s.warnings[0]


def test_huge_objects_keep_a_minimum_frame():
    s = input_scale(profile(300, 300, 270), 'cpu')
    assert max(s.scale) >= 320 and s.train_crop is None


def test_gpu_keeps_whole_frames():
    s = input_scale(profile(1280, 720, 30), 'gpu')
    assert s.train_crop is None and max(s.scale) <= 1333


@pytest.mark.parametrize('size', [(360, 202), (1920, 1080), (300, 300), (640, 480)])
@pytest.mark.parametrize('generator', ['copy-paste', 'gligen-text'])
def test_canvas_is_a_multiple_of_8_in_the_frames_aspect(size, generator):
    w, h = generation_canvas(profile(*size, 20), generator)
    assert w % 8 == 0 and h % 8 == 0
    assert abs(w / h - size[0] / size[1]) < 0.05 * size[0] / size[1]
    if generator == 'gligen-text':
        assert max(w, h) == 512


def test_phrases_default_to_names_and_warn_on_non_words():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        phrases = gligen_phrases(['rainbow_trout', 'éléphant', '0'])
    assert phrases == {'rainbow_trout': 'rainbow trout', 'éléphant': 'éléphant', '0': '0'}
    assert [str(w.message) for w in caught if "'0'" in str(w.message)]
    assert len(caught) == 1


@pytest.mark.parametrize('name', sorted(DETECTORS))
def test_every_head_gets_the_data_classes(name):
    classes = ['rainbow trout', 'éléphant', 'car']
    cfg = detector_config(name, classes, profile(640, 480, 20, classes), 'cpu')
    heads = heads_with_classes(cfg.model)
    assert heads and all(h['num_classes'] == 3 for h in heads)
    check_classes(cfg, classes, name)  # consistent: no error
    with pytest.raises(ClassMismatchError, match=r"(?s)data classes \(2\).*'car'.*num_classes"):
        check_classes(cfg, classes[:2], name)


def test_check_classes_names_the_order():
    cfg = detector_config('fcos-r18', ['a', 'b'], profile(640, 480, 20), 'cpu')
    with pytest.raises(ClassMismatchError, match=r"train_dataloader classes \(2\): \['a', 'b'\]"):
        check_classes(cfg, ['b', 'a'], 'x')


def test_no_model_base_hard_codes_num_classes():
    offenders = [p.name for p in (REPO / 'configs/_base_/models').glob('*.py')
                 if re.search(r'^\s*num_classes\s*=', p.read_text(), re.M)]
    assert not offenders, f'model bases must take num_classes from the data: {offenders}'


def test_the_derived_config_trains_what_the_real_only_arm_trains():
    """Stock tools/train.py on the derived detector config runs the device's default schedule, the one
    every experiment stage renders with the same function."""
    from mmgen_det.experiments.config import Schedule
    from mmgen_det.recipes import SCHEDULES, schedule_cfg
    for device in ('cpu', 'gpu'):
        cfg = detector_config('fcos-lite0', ['a', 'b'], profile(360, 202, 7), device)
        expected = schedule_cfg(Schedule(**SCHEDULES[device]['default']))
        assert cfg.train_cfg == expected['train_cfg'] and cfg.param_scheduler == expected['param_scheduler']
        assert cfg.default_hooks.checkpoint == expected['checkpoint']


def test_gligen_settings_come_from_the_reference_configs_and_the_data():
    """Sampler, steps, guidance and checkpoints live in the reference generation configs only; the data
    decides the phrases, the prompt and which real images crops and backgrounds come from."""
    from mmgen_det.recipes.generation import GLIGEN_BASES, config_generator, derive_generation
    data = profile(640, 480, 20, classes=('harbour seal', 'kayak'))
    for name in GLIGEN_BASES:
        reference = config_generator(GLIGEN_BASES[name])
        derived = derive_generation(name, data, 1.0, 'data/mine/')['generator']
        for key in ('model', 'grounding', 'num_inference_steps', 'guidance_scale', 'scheduled_sampling_beta',
                    'scheduler', 'negative_prompt'):
            assert derived[key] == reference[key], (name, key)
        assert derived['phrases'] == [['harbour seal', 'harbour seal'], ['kayak', 'kayak']]
        assert 'coral reef' not in derived['prompt']
        paths = [derived.get('ann_file'), derived.get('img_root'), *(derived.get('crops') or {}).values()]
        assert not any('fish4knowledge' in str(p) for p in paths), (name, paths)
    source = '\n'.join(p.read_text() for p in (REPO / 'mmgen_det' / 'recipes').glob('*.py'))
    assert 'num_inference_steps=' not in source and 'guidance_scale=' not in source


@pytest.mark.parametrize('name', ['copy-paste-diverse', 'copy-paste-scene'])
def test_copy_paste_presets_take_their_settings_from_the_shipped_config(name):
    """``--generator copy-paste-diverse`` / ``copy-paste-scene``: the data decides the canvas and the real
    images, the preset config the blends, appearance and background settings (one home), and the
    generator accepts them."""
    from mmgen_det.generation.copy_paste import CopyPasteGenerator
    from mmgen_det.recipes.generation import COPY_PASTE, PRESET_KEYS, config_generator, derive_generation
    data = profile(640, 480, 20, classes=('harbour seal', 'kayak'))
    plain = derive_generation('copy-paste', data, 0.5, 'data/mine/')
    diverse = derive_generation(name, data, 0.5, 'data/mine/')
    preset = config_generator(COPY_PASTE[name])
    assert diverse['layout'] == plain['layout'] and (diverse['layout']['width'], diverse['layout']['height']) == (320, 240)
    assert {k: v for k, v in diverse['generator'].items() if k not in PRESET_KEYS} == plain['generator']
    taken = [k for k in PRESET_KEYS if k in preset]
    assert taken and all(diverse['generator'][k] == preset[k] for k in taken)
    assert not set(PRESET_KEYS) & set(plain['generator'])
    CopyPasteGenerator.pixel_settings(diverse['generator'])  # checked as a set's settings are: accepted
