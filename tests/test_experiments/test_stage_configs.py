"""The derived training configs build the datasets they promise, without training: pretrain reads the
synthetic set (filtered on stored PR scores), mixed reads synthetic + real, every arm keeps the real
val/test splits."""
from __future__ import annotations

import pytest
from helpers import REPO

from mmgen_det.experiments.config import Filter, Schedule
from mmgen_det.experiments import stages
from mmgen_det.utils.io import atomic_write_json, read_json

DETECTOR = str(REPO / 'configs/demo/fcos_r18_real-only_fish4knowledge-mini.py')
GENERATION = str(REPO / 'configs/_base_/generation/copy-paste_fish4knowledge.py')


@pytest.fixture(scope='module')
def setup(fish_coco, tmp_path_factory):
    tmp = tmp_path_factory.mktemp('stage_cfgs')
    stages.subset(fish_coco / 'annotations' / 'train.json', 4, 0, tmp / 'train_4.json')
    generation = stages.load_generation(GENERATION).with_real_data(str(tmp / 'train_4.json'), f'{fish_coco}/')
    stages.generate(generation, tmp / 'set', 6, 0)
    real = stages.RealData(f'{fish_coco}/', 'annotations/val.json', 'annotations/test.json')
    cfg = stages.with_real_data(stages.load_detector_cfg(DETECTOR, {}), real, str(tmp / 'train_4.json'))
    return tmp, cfg


def build(dataset_cfg):
    from mmdet.registry import DATASETS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    return DATASETS.build(dataset_cfg)


def test_real_pretrain_and_mixed_datasets(setup):
    tmp, cfg = setup
    assert len(build(cfg.train_dataloader.dataset)) == 4
    assert cfg.val_evaluator.ann_file.endswith('annotations/val.json')
    synthetic = stages.synthetic_dataset(cfg, tmp / 'set', Filter('none'), None)
    assert len(build(stages.with_train_dataset(cfg, synthetic).train_dataloader.dataset)) == 6
    mixed = stages.with_train_dataset(cfg, stages.mixed_dataset(cfg, synthetic))
    assert len(build(mixed.train_dataloader.dataset)) == 6 + 4
    assert stages.kept_images(tmp / 'set' / 'annotations.json', stages.train_filter_cfg(Filter('none'), None)) == 6
    # the real images repeated: half of the 6 + 2 x 4 samples are real
    balanced = stages.with_train_dataset(cfg, stages.mixed_dataset(cfg, synthetic, stages.real_repeats(0.5, 4, 6)))
    assert len(build(balanced.train_dataloader.dataset)) == 6 + 2 * 4


@pytest.mark.parametrize('fraction, num_real, num_synthetic, repeats', [
    (None, 50, 400, 1),   # plain concatenation: one sample in nine is real
    (0.5, 50, 400, 8),    # as many real samples as generated ones
    (0.25, 50, 400, 3),   # 150 of 550 real: 27%
    (0.5, 300, 100, 1),   # more real than generated images: never fewer than once
    (0.5, 50, 0, 1),      # a filter that kept nothing
])
def test_real_repeats_give_the_real_fraction(fraction, num_real, num_synthetic, repeats):
    assert stages.real_repeats(fraction, num_real, num_synthetic) == repeats


def test_pr_filter_keeps_what_the_stored_scores_pass(setup, tmp_path):
    import shutil
    tmp, cfg = setup
    set_dir = tmp_path / 'set'
    shutil.copytree(tmp / 'set', set_dir)
    coco = read_json(set_dir / 'annotations.json')
    for i, image in enumerate(coco['images']):  # precision 0.0, 0.2, ..., 1.0
        image['pr_filter'] = {'k': dict(precision=i / 5, recall=1.0)}
    atomic_write_json(set_dir / 'annotations.json', coco)
    filt = Filter('pr', 'pr', min_precision=0.5)
    assert stages.kept_images(set_dir / 'annotations.json', stages.train_filter_cfg(filt, 'k')) == 3
    assert len(build(stages.synthetic_dataset(cfg, set_dir, filt, 'k'))) == 3


def test_stage_counts_and_splits_keep_what_a_feature_distance_filter_keeps(setup, tmp_path):
    """Counted and split by the dataset's keep rule, feature distance included (the stages' own rule
    once knew only PR thresholds)."""
    import shutil
    tmp, cfg = setup
    set_dir = tmp_path / 'set'
    shutil.copytree(tmp / 'set', set_dir)
    coco = read_json(set_dir / 'annotations.json')
    for i, image in enumerate(coco['images']):  # distances 0, 1, ..., 5: four are within 3.0
        image['pr_filter'] = {'k': dict(precision=1.0, recall=1.0)}
        image['feature_distance'] = {'f': dict(distance=float(i))}
    atomic_write_json(set_dir / 'annotations.json', coco)
    filter_cfg = dict(stages.train_filter_cfg(Filter('pr', 'pr', min_precision=0.5), 'k'), max_feature_distance=3.0)
    dataset = dict(stages.synthetic_dataset(cfg, set_dir, Filter('none'), None), filter_cfg=filter_cfg)
    assert stages.kept_images(set_dir / 'annotations.json', filter_cfg) == len(build(dataset)) == 4
    split = stages.split_synthetic(set_dir, filter_cfg, 0.25, 0, tmp_path / 'stage')
    kept = {im['id'] for part in split.values() for im in read_json(part)['images']}
    assert kept == {im['id'] for im in coco['images'][:4]}


def test_runnable_config_sets_the_protocol(setup, tmp_path):
    _, cfg = setup
    out = stages.runnable_config(cfg, Schedule(30, 10, patience=2, early_stop_begin=0.5), 7, tmp_path, 'real_N4',
                                 'none', load_from='x.pth', progress='real N4_s7')
    assert out.train_cfg.max_iters == 30 and out.randomness.seed == 7 and out.load_from == 'x.pth'
    assert out.default_hooks.checkpoint.save_best == 'coco/bbox_mAP'
    assert [(h['type'], h.get('begin')) for h in out.custom_hooks] == [('DelayedEarlyStoppingHook', 15),
                                                                        ('TrainingProgressHook', None),
                                                                        ('PretrainLoadCheckHook', None)]
    assert out.train_dataloader.sampler.type == 'InfiniteSampler'  # no epoch ends, no 2 s sleeps
    assert out.visualizer.name == out.experiment_name == 'real_N4'


def test_pretrain_val_synthetic_holds_out_kept_generated_images(setup, tmp_path):
    import shutil
    tmp, cfg = setup
    set_dir = tmp_path / 'set'
    shutil.copytree(tmp / 'set', set_dir)
    coco = read_json(set_dir / 'annotations.json')
    for i, image in enumerate(coco['images']):  # precision 0.0, 0.2, ..., 1.0: the last 3 pass
        image['pr_filter'] = {'k': dict(precision=i / 5, recall=1.0)}
    atomic_write_json(set_dir / 'annotations.json', coco)
    filt = Filter('pr', 'pr', min_precision=0.5)
    split = stages.split_synthetic(set_dir, stages.train_filter_cfg(filt, 'k'), 0.15, 0, tmp_path / 'stage')
    train, val = read_json(split['train']), read_json(split['val'])
    kept = {im['id'] for im in coco['images'][3:]}
    train_ids, val_ids = {im['id'] for im in train['images']}, {im['id'] for im in val['images']}
    assert train_ids | val_ids == kept and not train_ids & val_ids and val_ids and train_ids
    again = stages.split_synthetic(set_dir, stages.train_filter_cfg(filt, 'k'), 0.15, 0, tmp_path / 'again')
    assert again['val'].read_text() == split['val'].read_text()  # deterministic for a seed

    pre = stages.with_synthetic_val(stages.with_train_dataset(
        cfg, dict(stages.synthetic_dataset(cfg, set_dir, filt, 'k'), ann_file=str(split['train']))),
        set_dir, split['val'])
    assert len(build(pre.train_dataloader.dataset)) == len(train_ids)
    val_set = build(pre.val_dataloader.dataset)
    assert {info['img_id'] for info in val_set.load_data_list()} == val_ids
    assert pre.val_evaluator.ann_file == str(split['val'])
    assert pre.test_dataloader.dataset.ann_file == cfg.test_dataloader.dataset.ann_file  # tested on real
