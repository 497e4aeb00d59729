"""``GenerationSettings``: a ``generation`` dict parsed and checked once, found wherever the synthetic
dataset sits in a config, and the same settings for tools/generate.py and the experiment stages."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
from helpers import REPO

from mmgen_det.cli import generate as generate_tool
from mmgen_det.experiments.stages import load_generation
from mmgen_det.generation.settings import (GenerationSettings, generation_datasets, load_generation_settings,
                                           train_generation_dataset)
from mmgen_det.generation.synthetic_set import pixel_settings
from mmgen_det.utils.keys import UnknownKeyError

GENERATION = dict(num_images=10, seed=3, batch_size=4, image_format='png',
                  layout=dict(ann_file='real.json', strategy='jitter', width=64, height=64, zoom=(1.5, 3.0)),
                  generator=dict(type='copy_paste', ann_file='real.json', img_root='real/'))
SYNTHETIC = dict(type='SyntheticDetDataset', data_root='set/', ann_file='annotations.json', generation=GENERATION)
REAL = dict(type='CocoDataset', data_root='real/', ann_file='train.json')


def test_a_good_dict_gives_typed_settings_and_back():
    settings = GenerationSettings.from_dict(GENERATION)
    assert (settings.num_images, settings.seed, settings.batch_size, settings.image_format) == (10, 3, 4, 'png')
    assert settings.out_dir is None and settings.layout['zoom'] == (1.5, 3.0)
    assert settings.to_dict() == GENERATION  # what generate_synthetic_set and the stage keys read
    assert GenerationSettings.from_dict(settings) is settings
    defaults = GenerationSettings.from_dict(dict(layout=GENERATION['layout'], generator=GENERATION['generator']))
    assert (defaults.seed, defaults.image_format, defaults.batch_size, defaults.num_images) == (0, 'jpg', None, None)
    assert pixel_settings(defaults.to_dict()) == pixel_settings(dict(layout=GENERATION['layout'],
                                                                     generator=GENERATION['generator']))


def test_parsing_copies_and_leaves_the_input_alone():
    given = copy.deepcopy(GENERATION)
    settings = GenerationSettings.from_dict(given)
    settings.to_dict()['layout']['width'] = 1
    assert given == GENERATION and settings.layout['width'] == 64


@pytest.mark.parametrize('where, typo, known', [
    (None, 'sead', 'seed'),
    ('layout', 'min_box_cell', 'min_box_cells'),
    ('generator', 'image_root', 'img_root'),
])
def test_unknown_keys_are_refused_with_the_closest_known_one(where, typo, known):
    bad = copy.deepcopy(GENERATION)
    (bad if where is None else bad[where])[typo] = 1
    with pytest.raises(UnknownKeyError, match=rf"unknown keys \['{typo}'\] \(did you mean '{known}'\?\)"):
        GenerationSettings.from_dict(bad)


@pytest.mark.parametrize('key, value, error', [
    ('num_images', 0, ValueError),
    ('num_images', '10', TypeError),
    ('batch_size', -1, ValueError),
    ('seed', True, TypeError),
    ('image_format', 3, TypeError),
    ('layout', None, ValueError),
])
def test_bad_values_are_refused(key, value, error):
    with pytest.raises(error, match=key if key != 'layout' else 'needs'):
        GenerationSettings.from_dict(dict(GENERATION, **{key: value}))


@pytest.mark.parametrize('train_dataset', [
    SYNTHETIC,
    dict(type='ConcatDataset', datasets=[SYNTHETIC, REAL]),
    dict(type='RepeatDataset', times=2, dataset=SYNTHETIC),
    dict(type='ClassBalancedDataset', oversample_thr=0.1, dataset=SYNTHETIC),
    dict(type='MultiImageMixDataset', dataset=SYNTHETIC, pipeline=[]),
    dict(type='ConcatDataset', datasets=[dict(type='RepeatDataset', times=3, dataset=REAL),
                                         dict(type='RepeatDataset', times=1, dataset=SYNTHETIC)]),
], ids=['direct', 'concat', 'repeat', 'class-balanced', 'multi-image-mix', 'concat-of-repeats'])
def test_the_settings_are_found_wherever_the_dataset_sits(train_dataset, tmp_path):
    cfg = dict(train_dataloader=dict(batch_size=2, dataset=train_dataset))
    assert train_generation_dataset(cfg, 'cfg') == SYNTHETIC
    assert load_generation_settings(cfg, 'cfg') == GenerationSettings.from_dict(GENERATION)
    # the same settings through a config file, for the experiment stage and for tools/generate.py
    config = tmp_path / 'cfg.py'
    config.write_text(f'train_dataloader = {cfg["train_dataloader"]!r}\n')
    assert load_generation(str(config)) == GenerationSettings.from_dict(GENERATION)
    from_tool = generate_tool.load_generation_cfg(generate_tool.parse_args([str(config), '--num-images', '5']))
    assert from_tool.to_dict() == dict(GENERATION, num_images=5, out_dir='set/')


def test_none_or_several_synthetic_datasets_is_an_error(tmp_path):
    assert generation_datasets([REAL, dict(REAL, generation=None)]) == []
    for dataset, found in ((REAL, 0), (dict(type='ConcatDataset', datasets=[SYNTHETIC, SYNTHETIC]), 2)):
        with pytest.raises(ValueError, match=rf'cfg.py: expected one SyntheticDetDataset .* found {found}'):
            train_generation_dataset(dict(train_dataloader=dict(dataset=dataset)), 'cfg.py')
    config = tmp_path / 'real.py'
    config.write_text(f'train_dataloader = dict(dataset={REAL!r})\n')
    with pytest.raises(SystemExit, match='found 0; use a synthetic-pretrain config'):
        generate_tool.load_generation_cfg(generate_tool.parse_args([str(config)]))


@pytest.mark.parametrize('config', sorted((REPO / 'configs' / '_base_' / 'generation').glob('*.py')),
                         ids=lambda p: Path(p).stem)
def test_every_shipped_generation_config_parses(config):
    settings = load_generation(str(config))
    assert settings.num_images and settings.layout['ann_file'] and settings.generator['type']
