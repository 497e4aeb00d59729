"""The experiment config schema: defaults, derived values, and errors that say what is wrong."""
from __future__ import annotations

import copy

import pytest
from helpers import REPO

from mmgen_det.experiments.config import ExperimentConfigError, Generator, Schedule, validate
from mmgen_det.experiments.runner import compute_matched_iterations, resolve_num_real

DETECTOR = str(REPO / 'configs/demo/fcos_r18_real-only_fish4knowledge-mini.py')
GENERATION = str(REPO / 'configs/_base_/generation/copy-paste_fish4knowledge.py')
FILTER_DET = str(REPO / 'configs/filter/faster-rcnn_r18_fpn_filter_fish4knowledge-mini.py')
BASE = dict(
    data=dict(source='data/fish4knowledge-mini', format='yolo'),
    detector=DETECTOR, num_real=[10, 'all'], seeds=[0, 1],
    arms=['real-only', 'synthetic-pretrain', 'compute-matched'],
    generators={'copy-paste': dict(config=GENERATION, images_per_real=30, max_images=500)},
    filters={'none': None, 'pr': dict(type='pr', min_precision=0.5)},
    filter_detector=dict(config=FILTER_DET, schedule=dict(max_iters=7)),
    schedules=dict(default=dict(max_iters=100, val_interval=10), finetune=dict(max_iters=40)))


def cfg(**changes):
    out = copy.deepcopy(BASE)
    out.update(changes)
    return out


def test_valid_config_and_derived_values():
    exp = validate(cfg())
    assert exp.schedule('finetune') == Schedule(40, 10)       # merged over default
    assert exp.schedule('pretrain') == Schedule(100, 10)      # falls back to default
    assert exp.filter_detector.schedule.max_iters == 7 and exp.filter_detector.score_thr == 0.05  # the measured default
    assert exp.filters['pr'].min_precision == 0.5 and exp.filters['pr'].min_recall is None
    assert exp.generators['copy-paste'].num_images(10) == 300
    assert exp.generators['copy-paste'].num_images(100) == 500  # capped by max_images
    assert exp.settings()['schedules']['default']['lr_steps'] == [0.75]
    assert exp.detector_config('finetune') == DETECTOR  # falls back to the real-data config


@pytest.mark.parametrize('changes, message', [
    (dict(arms=['real-only', 'bogus']), 'unknown arms'),
    (dict(arms=['real-only', 'compute-matched']), 'compute-matched arm is matched to a generated-data arm'),
    (dict(generators={}), 'need at least one entry in `generators`'),
    (dict(filter_detector=None), 'PR filters need `filter_detector'),
    (dict(filters={'bad': dict(type='pr', min_precision=1.5)}), 'must be in [0, 1]'),
    (dict(filters={'bad': dict(type='pr')}), 'needs min_precision and/or min_recall'),
    (dict(num_real=[10, 0]), "positive ints or 'all'"),
    (dict(seeds=[]), 'seeds must be a non-empty list'),
    (dict(detector='configs/nope.py'), "detector.real 'configs/nope.py' does not exist"),
    (dict(detector=dict(finetune=DETECTOR)), 'dict(real=PATH, ...)'),
    (dict(schedules=dict(default=dict(max_iters=10, val_interval=5, patiense=2))), "unknown keys ['patiense']"),
    (dict(schedules=dict(default=dict(max_iters=10, val_interval=5), testing=dict())), 'not a training stage'),
    (dict(data=dict(source='x', format='csv')), 'data.format must be one of'),
    (dict(pretrain_val='test'), "pretrain_val must be one of ['real', 'synthetic']"),
    (dict(mixed_real_fraction=1), 'mixed_real_fraction must be None or a number in (0, 1), got 1'),
    (dict(mixed_real_fraction='half'), "mixed_real_fraction must be None or a number in (0, 1), got 'half'"),
])
def test_invalid_configs_say_what_is_wrong(changes, message):
    with pytest.raises(ExperimentConfigError, match=None) as err:
        validate(cfg(**changes))
    assert message in str(err.value)


def test_schedule_fixed_is_the_compute_matched_schedule():
    fixed = Schedule(1000, 100, patience=3, warmup_iters=50).fixed(30)
    assert (fixed.max_iters, fixed.val_interval, fixed.patience, fixed.warmup_iters) == (30, 30, None, 30)


def test_compute_matched_iterations_takes_the_longest_generated_run():
    assert compute_matched_iterations([1100 + 300, 900]) == 1400
    with pytest.raises(ValueError, match='at least one generated-data run'):
        compute_matched_iterations([])


def test_resolve_num_real():
    assert resolve_num_real('all', 200) == 200 and resolve_num_real(50, 200) == 50
    with pytest.raises(ValueError, match='only 200 images'):
        resolve_num_real(300, 200)


def test_generator_num_images_rounds_and_is_at_least_one():
    assert Generator('g', GENERATION, 0.01).num_images(10) == 1
    assert Generator('g', GENERATION, 2.5).num_images(3) == 8
