"""Stage keys, and the pure config derivations of the stages (no training)."""
from __future__ import annotations

import os
import shutil

import pytest

from conftest import FISH_MINI
from helpers import REPO

from mmgen_det.experiments.cache import DIGEST_CACHE, STAGE_LOG, StageCache, read_stage_log, stage_key
from mmgen_det.experiments.config import ExperimentConfigError, Generator, Schedule, load_experiment
from mmgen_det.experiments.runner import ExperimentRunner, StageResult
from mmgen_det.experiments.stages import best_iteration, bind_real_data
from mmgen_det.recipes import schedule_cfg
from mmgen_det.generation.settings import GenerationSettings
from mmgen_det.utils import hashing
from mmgen_det.utils.hashing import tree_digest


def test_stage_key_depends_on_inputs_not_their_order():
    a = stage_key('pretrain', dict(seed=0, subset='abc', schedule=dict(max_iters=10, val_interval=5)))
    b = stage_key('pretrain', dict(schedule=dict(val_interval=5, max_iters=10), subset='abc', seed=0))
    assert a == b and len(a) == 16
    assert stage_key('pretrain', dict(seed=1, subset='abc')) != stage_key('pretrain', dict(seed=0, subset='abc'))
    assert stage_key('finetune', dict(seed=0)) != stage_key('pretrain', dict(seed=0))


def test_cache_records_and_log(tmp_path):
    cache = StageCache(tmp_path)
    d = cache.stage_dir('real', 'k' * 16, 'N10 s0/x')
    assert d.name == 'N10_s0_x-' + 'k' * 16
    assert cache.load(d) is None
    cache.save(d, dict(iterations=5))
    cache.log('real', 'k' * 16, 'N10', 'ran', dict(iterations=5, seconds=1.0))
    assert cache.load(d) == dict(iterations=5)
    assert read_stage_log(tmp_path)[0]['status'] == 'ran'
    # a process killed while logging leaves a torn line: it is skipped, and the next entry is whole
    with open(tmp_path / STAGE_LOG, 'a') as f:
        f.write('{"time": "2026-01-01T00:00:00", "sta')
    cache.log('test', 'k' * 16, 'N10', 'cached', dict(seconds=0.0))
    with pytest.warns(UserWarning, match=r'stage_log.jsonl:2: a torn line'):
        entries = read_stage_log(tmp_path)
    assert [e['status'] for e in entries] == ['ran', 'cached']
    dry = StageCache(tmp_path / 'dry', write=False)
    dry.save(d, {})
    dry.log('real', 'k', 'N', 'ran', {})
    assert not (tmp_path / 'dry').exists()


def test_tree_digest_sees_added_files(tmp_path):
    (tmp_path / 'a.txt').write_text('x')
    before = tree_digest(tmp_path)
    (tmp_path / 'b.txt').write_text('y')
    assert tree_digest(tmp_path) != before


def test_tree_digest_sees_an_edit_that_keeps_size_and_mtime(tmp_path, monkeypatch):
    """A label edited in place (class 3 -> 4) changes the digest, also through the stamp cache, even
    with its mtime set back; unchanged files are not read again."""
    data, cache = tmp_path / 'data', tmp_path / 'work' / DIGEST_CACHE
    data.mkdir()
    (data / 'a.txt').write_text('3 0.5 0.5 0.1 0.1\n')
    (data / 'b.txt').write_text('1 0.2 0.2 0.1 0.1\n')
    before = tree_digest(data, cache)
    reads = []
    real_digest = hashing.file_digest
    monkeypatch.setattr(hashing, 'file_digest', lambda path: reads.append(path.name) or real_digest(path))
    assert tree_digest(data, cache) == before and reads == []
    stat = (data / 'a.txt').stat()
    (data / 'a.txt').write_text('4 0.5 0.5 0.1 0.1\n')
    os.utime(data / 'a.txt', ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert tree_digest(data, cache) != before and reads == ['a.txt']
    assert tree_digest(data, cache) == tree_digest(data)


def test_data_stage_converts_the_read_it_is_given_without_decoding_again(tmp_path, monkeypatch):
    """run_experiment --data reads the source once to derive the experiment; the data stage converts that
    read: every image is decoded once per command, and the converted files are those of a fresh read."""
    from mmgen_det.datasets import read_dataset
    from mmgen_det.datasets.formats import common
    exp = load_experiment(REPO / 'configs/experiments/demo_fish4knowledge-mini.py', {'data.source': str(FISH_MINI)})
    fresh, _ = ExperimentRunner(exp, tmp_path / 'fresh', echo=False).data()
    decoded: dict[str, int] = {}
    decode = common.decode_image
    monkeypatch.setattr(common, 'decode_image', lambda path: decoded.update({path: decoded.get(path, 0) + 1})
                        or decode(path))
    splits = read_dataset(exp.source, exp.format, **exp.read_options())
    given, _ = ExperimentRunner(exp, tmp_path / 'work', echo=False, source=splits).data()
    assert decoded and set(decoded.values()) == {1}
    assert given.key == fresh.key
    for name in ('train', 'val', 'test'):
        assert (given.dir / 'coco' / 'annotations' / f'{name}.json').read_bytes() == \
            (fresh.dir / 'coco' / 'annotations' / f'{name}.json').read_bytes()


def test_a_config_run_reads_its_data_once_for_its_plan_and_its_run(tmp_path, monkeypatch):
    """run_experiment CONFIG plans every stage (a dry run), then runs them: both take one read of the
    source, so every image is decoded once per command."""
    from mmgen_det.cli import run_experiment as run_cli
    from mmgen_det.datasets.formats import common
    from mmgen_det.experiments import runner as runner_module
    decoded: dict[str, int] = {}
    decode = common.decode_image
    monkeypatch.setattr(common, 'decode_image', lambda path: decoded.update({path: decoded.get(path, 0) + 1})
                        or decode(path))
    sources = []

    class StopBeforeTraining(ExperimentRunner):
        def run(self):
            sources.append(self.source)
            if not self.dry_run:
                raise SystemExit('stopped before training')
            return super().run()
    monkeypatch.setattr(runner_module, 'ExperimentRunner', StopBeforeTraining)
    with pytest.raises(SystemExit, match='stopped before training'):
        run_cli.main([str(REPO / 'configs/experiments/demo_fish4knowledge-mini.py'), '--work-dir', str(tmp_path / 'work'),
                      '--cfg-options', f'data.source={FISH_MINI}'])
    assert len(sources) == 2 and sources[0] is not None and sources[1] is sources[0]
    assert decoded and set(decoded.values()) == {1}


def test_data_stage_reruns_after_a_label_edit_of_the_same_length(tmp_path):
    """The conversion is keyed by the data's content: an edited label is never read from a stale stage."""
    source = tmp_path / 'fish'
    shutil.copytree(FISH_MINI, source)
    exp = load_experiment(REPO / 'configs/experiments/demo_fish4knowledge-mini.py', {'data.source': str(source)})
    first, _ = ExperimentRunner(exp, tmp_path / 'work', echo=False).data()
    label = next(p for p in sorted((source / 'train' / 'labels').iterdir()) if p.read_text().startswith('1 '))
    label.write_text('2' + label.read_text()[1:])
    again, _ = ExperimentRunner(exp, tmp_path / 'work', echo=False).data()
    assert again.key != first.key and again.status == 'ran'
    assert [r['status'] for r in read_stage_log(tmp_path / 'work')] == ['ran', 'ran']


def test_schedule_cfg_with_and_without_early_stop():
    cfg = schedule_cfg(Schedule(100, 20, patience=3, warmup_iters=10, lr_steps=(0.75,)))
    assert cfg['train_cfg'] == dict(type='IterBasedTrainLoop', max_iters=100, val_interval=20)
    assert cfg['param_scheduler'][0]['type'] == 'LinearLR' and cfg['param_scheduler'][1]['milestones'] == [75]
    assert cfg['checkpoint']['save_best'] == 'coco/bbox_mAP' and cfg['checkpoint']['interval'] == -1
    assert cfg['early_stopping'][0]['patience'] == 3 and cfg['early_stopping'][0]['min_delta'] == 0.001
    fixed = schedule_cfg(Schedule(100, 20).fixed(40))
    assert fixed['early_stopping'] == [] and fixed['train_cfg']['max_iters'] == 40


def test_cosine_schedule_decays_to_zero_after_warmup_and_survives_fixed():
    schedule = Schedule(600, 200, patience=None, warmup_iters=30, lr_decay='cosine')
    warmup, cosine = schedule_cfg(schedule)['param_scheduler']
    assert warmup['end'] == 30 and cosine['type'] == 'CosineAnnealingLR'
    assert (cosine['begin'], cosine['end'], cosine['T_max'], cosine['eta_min']) == (30, 600, 570, 0.)
    fixed = schedule.fixed(900)
    assert fixed.lr_decay == 'cosine' and schedule_cfg(fixed)['param_scheduler'][1]['T_max'] == 870
    short = schedule_cfg(Schedule(30, 30, warmup_iters=50, lr_decay='cosine').fixed(30))['param_scheduler'][1]
    assert (short['begin'], short['end'], short['T_max']) == (29, 30, 1)
    with pytest.raises(ExperimentConfigError, match='lr_decay'):
        Schedule(600, 200, lr_decay='linear')


def test_with_real_data_points_layouts_and_crops_at_the_subset():
    gen = GenerationSettings.from_dict(dict(
        layout=dict(ann_file='full.json', strategy='jitter'),
        generator=dict(type='gligen', crops=dict(ann_file_or_dict='full.json', img_root='root/', min_size=16))))
    bound = gen.with_real_data('subset.json', 'coco/')
    assert bound.layout == dict(ann_file='subset.json', strategy='jitter')
    assert bound.generator['crops'] == dict(ann_file_or_dict='subset.json', img_root='coco/', min_size=16)
    assert gen.layout['ann_file'] == gen.generator['crops']['ann_file_or_dict'] == 'full.json'  # gen is unchanged
    copy_paste = GenerationSettings.from_dict(dict(layout=dict(ann_file='f'), generator=dict(
        type='copy_paste', ann_file='f', img_root='r'))).with_real_data('s', 'c')
    assert copy_paste.generator == dict(type='copy_paste', ann_file='s', img_root='c')
    with pytest.warns(FutureWarning, match='bind_real_data is deprecated'):
        assert bind_real_data(gen.to_dict(), 'subset.json', 'coco/') == bound.to_dict()


def test_best_iteration():
    assert best_iteration('/w/best_coco_bbox_mAP_iter_120.pth') == 120
    assert best_iteration('/w/epoch_3.pth') is None


def test_generate_stage_is_keyed_by_what_determines_the_pixels(tmp_path):
    """Batch sizes and the device index change no pixel, so no stage key; the dtype does."""
    exp = load_experiment(REPO / 'configs/experiments/demo_fish4knowledge-mini.py')
    subset = StageResult('subset', 'k' * 16, tmp_path, 'cached', {})

    def key(name: str, **generation) -> str:
        config = tmp_path / f'{name}.py'
        config.write_text(f"_base_ = [{str(REPO / 'configs/_base_/generation/gligen_text-box_fish4knowledge.py')!r}]\n"
                          f'train_dataloader = dict(dataset=dict(generation={generation!r}))\n')
        runner = ExperimentRunner(exp, tmp_path / 'work', dry_run=True, echo=False)
        return runner.generate(Generator(name, str(config), 1.0), subset, None, 10, 0).key
    gpu0 = key('gpu0', batch_size=8, generator=dict(device='cuda:0'))
    assert key('gpu1', batch_size=2, generator=dict(device='cuda:1', batch_size=2)) == gpu0
    assert key('fp32', batch_size=8, generator=dict(device='cuda:0', dtype='float32')) != gpu0
    assert not (tmp_path / 'work').exists()
