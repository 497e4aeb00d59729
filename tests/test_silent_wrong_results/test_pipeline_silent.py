"""What the experiment pipeline reads, carves and trains is what it says, or it stops.

- Splits the runner carves off a training split never put byte-identical images on both sides (a
  test image that is also a training image measures nothing); a dataset without such images is split
  exactly as before, under the same stage key.
- The data stage's key covers every file the reader used: images beside a COCO json's folder, labels
  through a symlinked folder.
- An edited schedule keeps every generated-data arm as long as its compute-matched control, or is
  refused; ``schedule_scale`` trains every arm longer together; a misspelt mmdet key in
  ``cfg_options`` is refused, not ignored.
- The fix an error message suggests for the data works when given to ``run_experiment --data``.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from conftest import FISH_CLASSES, FISH_MINI
from helpers import REPO, run_tool, write_image, yolo_folder

from mmgen_det.datasets.subsets import split_off
from mmgen_det.experiments.config import ExperimentConfigError, load_experiment
from mmgen_det.experiments.runner import ExperimentRunner
from mmgen_det.utils.hashing import tree_digest, tree_files

DEMO = REPO / 'configs/experiments/demo_fish4knowledge-mini.py'


def experiment(source: Path, fmt: str = 'auto', **options):
    """The demo experiment on ``source``: whole val/test splits, every data option given."""
    data = {'data.source': str(source), 'data.format': fmt, 'data.val_images': None, 'data.test_images': None}
    return load_experiment(DEMO, {**data, **options})


def data_stage(exp, work: Path, dry_run: bool = True):
    result, _ = ExperimentRunner(exp, work, dry_run=dry_run, echo=False).data()
    return result


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- carved splits ----------------------------------------------------------------------------------
def fish_train_only(root: Path, images: int, duplicates: int = 0) -> Path:
    """A bare YOLO folder of the sample's first ``images`` training frames; the first ``duplicates``
    of them once more under another name (same bytes, same labels)."""
    frames = sorted((FISH_MINI / 'train' / 'images').iterdir())[:images]
    for name, frame in [(f.name, f) for f in frames] + [(f'copy_{f.name}', f) for f in frames[:duplicates]]:
        (root / 'images').mkdir(parents=True, exist_ok=True)
        (root / 'labels').mkdir(exist_ok=True)
        shutil.copyfile(frame, root / 'images' / name)
        label = FISH_MINI / 'train' / 'labels' / f'{frame.stem}.txt'
        shutil.copyfile(label, root / 'labels' / f'{Path(name).stem}.txt')
    return root


def split_contents(data) -> dict[str, set[str]]:
    """sha256 of the images of each converted split."""
    coco_dir = data.dir / 'coco'
    return {name: {sha256(coco_dir / im['file_name'])
                   for im in json.loads((coco_dir / 'annotations' / f'{name}.json').read_text())['images']}
            for name in ('train', 'val', 'test')}


def test_carved_splits_keep_byte_identical_images_on_one_side(tmp_path, capfd):
    src = fish_train_only(tmp_path / 'src', 40, duplicates=10)
    exp = experiment(src, 'yolo', **{'data.classes': list(FISH_CLASSES)})
    data = data_stage(exp, tmp_path / 'work', dry_run=False)
    sides = split_contents(data)
    assert not sides['train'] & sides['test'] and not sides['train'] & sides['val']
    assert not sides['val'] & sides['test']
    assert data.record['split']['identical_images'] == 20
    assert '20 training images repeat the bytes of another' in capfd.readouterr().err
    # same seed, same split
    assert split_contents(data_stage(exp, tmp_path / 'again', dry_run=False)) == sides


def test_split_off_keeps_groups_together_and_singletons_as_before():
    coco = dict(images=[dict(id=i, file_name=f'{i}.jpg') for i in range(1, 61)],
                annotations=[dict(id=i, image_id=i, category_id=1 + i % 3) for i in range(1, 61)],
                categories=[dict(id=c) for c in (1, 2, 3)])
    fractions = {'val': 0.15, 'test': 0.15}
    plain = split_off(coco, fractions, seed=5)
    assert split_off(coco, fractions, seed=5, groups={}) == plain
    groups = {i: f'pair {i // 2}' for i in range(1, 41)}  # 20 pairs of byte-identical images
    parts = split_off(coco, fractions, seed=5, groups=groups)
    side = {im['id']: name for name, part in parts.items() for im in part['images']}
    assert len(side) == 60
    assert all(side[i] == side[j] for i in groups for j in groups if groups[i] == groups[j])
    assert split_off(coco, fractions, seed=5, groups=groups) == parts


def test_a_dataset_without_identical_images_keeps_its_split_and_stage_key(tmp_path):
    """Split and key as computed before identical images were grouped (the sample's 200 training frames,
    val and test carved off them)."""
    exp = experiment(FISH_MINI / 'train', 'yolo', **{'data.classes': list(FISH_CLASSES)})
    assert data_stage(exp, tmp_path / 'plan').key == 'a3fe8e2c1aa87854'
    data = data_stage(exp, tmp_path / 'work', dry_run=False)
    assert data.key == 'a3fe8e2c1aa87854'
    listed = {}
    for name in ('train', 'val', 'test'):
        coco = json.loads((data.dir / 'coco' / 'annotations' / f'{name}.json').read_text())
        names = '\n'.join(sorted(im['file_name'] for im in coco['images']))
        listed[name] = (len(coco['images']), hashlib.sha256(names.encode()).hexdigest()[:16])
    assert listed == dict(train=(138, '34c681184c7c226a'), val=(31, '32c43522e26ac3f5'),
                          test=(31, 'e4baaf20b9f8e977'))
    assert data.record['split']['identical_images'] == 0


# -- what the data stage's key covers ---------------------------------------------------------------
def coco_export(root: Path, images: int) -> Path:
    """``annotations/train.json`` with its images in ``images/`` beside the annotations folder."""
    coco = dict(images=[], annotations=[], categories=[dict(id=1, name='thing')])
    for i in range(images):
        write_image(root / 'images' / f'{i}.jpg', (64, 48), i)
        coco['images'].append(dict(id=i + 1, file_name=f'{i}.jpg', width=64, height=48))
        coco['annotations'].append(dict(id=i + 1, image_id=i + 1, category_id=1, bbox=[8, 8, 20, 16],
                                        area=320, iscrowd=0))
    (root / 'annotations').mkdir(parents=True)
    (root / 'annotations' / 'train.json').write_text(json.dumps(coco))
    return root / 'annotations' / 'train.json'


def test_a_replaced_coco_image_changes_the_data_stage_key(tmp_path):
    ann = coco_export(tmp_path / 'coco', 8)
    exp = experiment(ann, 'coco')
    before = data_stage(exp, tmp_path / 'work').key
    assert data_stage(exp, tmp_path / 'work').key == before
    write_image(ann.parents[1] / 'images' / '3.jpg', (64, 48), 99)  # other pixels, same name and size
    assert data_stage(exp, tmp_path / 'work').key != before


def test_a_label_edited_through_a_symlinked_labels_folder_changes_the_data_stage_key(tmp_path):
    store = yolo_folder(tmp_path / 'store', ['a', 'b'], (64, 48), 0.3, 8)
    src = tmp_path / 'src'
    src.mkdir()
    shutil.copytree(store / 'images', src / 'images')
    shutil.copyfile(store / 'classes.txt', src / 'classes.txt')
    (src / 'labels').symlink_to(store / 'labels', target_is_directory=True)
    exp = experiment(src, 'yolo', **{'data.allow_outside_root': True})  # the link leads out of src
    before = data_stage(exp, tmp_path / 'work').key
    label = store / 'labels' / 'frame 002.txt'
    label.write_text('1' + label.read_text()[1:])  # class a -> b, same size
    assert data_stage(exp, tmp_path / 'work').key != before


def test_a_tree_digest_follows_links_out_once_and_a_link_back_up_ends(tmp_path):
    data, elsewhere = tmp_path / 'data', tmp_path / 'elsewhere'
    (data / 'own').mkdir(parents=True)
    elsewhere.mkdir()
    (data / 'own' / 'a.txt').write_text('0 0.5 0.5 0.1 0.1\n')
    (elsewhere / 'b.txt').write_text('0 0.5 0.5 0.1 0.1\n')
    (data / 'again').symlink_to(data / 'own', target_is_directory=True)  # inside: digested as own/ only
    (data / 'own' / 'up').symlink_to(data, target_is_directory=True)
    (data / 'labels').symlink_to(elsewhere, target_is_directory=True)
    assert [p.relative_to(data).as_posix() for p in tree_files(data)] == ['labels/b.txt', 'own/a.txt']
    before = tree_digest(data)
    (elsewhere / 'b.txt').write_text('1 0.5 0.5 0.1 0.1\n')
    assert tree_digest(data) != before


# -- schedules and cfg_options ----------------------------------------------------------------------
def test_raising_one_schedule_is_refused_and_schedule_scale_trains_every_arm_longer(tmp_path):
    src = yolo_folder(tmp_path / 'src', ['a', 'b'], (64, 48), 0.3, 24)
    work = tmp_path / 'work'
    args = ['tools/run_experiment.py', '--data', str(src), '--work-dir', str(work), '--device', 'cpu',
            '--dry-run']
    refused = run_tool(args + ['--cfg-options', 'schedules.default.max_iters=2000'], check=False, timeout=600)
    assert refused.returncode != 0 and 'Traceback' not in refused.stderr
    message = refused.stderr.strip().splitlines()[-1]
    assert message.startswith('run_experiment: schedules: ') and 'schedule_scale' in message
    assert 'synthetic-pretrain 1200 (pretrain 900 + finetune 300)' in message and 'mixed 2000' in message
    run_tool(args + ['--cfg-options', 'schedule_scale=2'], timeout=600)
    exp = load_experiment(work / 'experiment.py', {'schedule_scale': 2})
    stages = ('real', 'pretrain', 'finetune', 'mixed', 'compute-matched')
    iters = {s: exp.schedule(s).max_iters for s in stages}
    assert iters == {'real': 2400, 'pretrain': 1800, 'finetune': 600, 'mixed': 2400, 'compute-matched': 2400}
    assert exp.schedule('real').val_interval == 2400  # validated once, at the end, as at scale 1


@pytest.mark.parametrize('option, message', [
    ('cfg_options.modle.backbone.depth', r"cfg_options: 'modle.backbone.depth'.*did you mean 'model'"),
    ('cfg_options.train_dataloader.num_workrs', r"'train_dataloader.num_workrs'.*did you mean 'num_workers'"),
    ('cfg_options.model.backbone.deepth', r"'model.backbone.deepth'.*did you mean 'depth'"),
    ('cfg_options.train_cfg.max_iters', r"'train_cfg.max_iters'.*schedules"),
])
def test_an_unknown_or_overridden_mmdet_key_in_cfg_options_is_refused(tmp_path, option, message):
    exp = load_experiment(DEMO, {option: 3})
    with pytest.raises(ExperimentConfigError, match=message):
        ExperimentRunner(exp, tmp_path / 'work', dry_run=True, echo=False).run()


def test_the_cfg_options_tests_and_recipes_use_are_accepted(tmp_path):
    options = {'cfg_options.model.test_cfg.score_thr': 0, 'cfg_options.train_dataloader.pin_memory': True,
               'cfg_options.model.backbone.init_cfg.checkpoint': None,
               'cfg_options.auto_scale_lr.base_batch_size': 4,
               'cfg_options.default_hooks.logger.interval': 5}
    ExperimentRunner(load_experiment(DEMO, options), tmp_path / 'work', dry_run=True, echo=False).run()


# -- the fixes the messages suggest -----------------------------------------------------------------
def voc_with_a_truncated_jpeg(root: Path) -> Path:
    for i in range(12):
        write_image(root / 'JPEGImages' / f'{i:04d}.jpg', (64, 48), i)
        (root / 'Annotations').mkdir(parents=True, exist_ok=True)
        (root / 'Annotations' / f'{i:04d}.xml').write_text(
            f'<annotation><filename>{i:04d}.jpg</filename><size><width>64</width><height>48</height>'
            '<depth>3</depth></size><object><name>thing</name><bndbox><xmin>8</xmin><ymin>8</ymin>'
            '<xmax>40</xmax><ymax>30</ymax></bndbox></object></annotation>')
    bad = root / 'JPEGImages' / '0005.jpg'
    bad.write_bytes(bad.read_bytes()[:-100])
    return root


def yolo_with_an_image_outside(root: Path) -> Path:
    yolo_folder(root, ['a', 'b'], (64, 48), 0.3, 12)
    outside = root.parent / 'elsewhere.jpg'
    write_image(outside, (64, 48), 77)
    (root / 'images' / 'linked.jpg').symlink_to(outside)
    return root


@pytest.mark.parametrize('make, suggested', [(voc_with_a_truncated_jpeg, ['--on-bad-image', 'skip']),
                                             (yolo_with_an_image_outside, ['--allow-outside-root'])],
                         ids=['truncated-jpeg', 'outside-root'])
def test_the_fix_a_data_error_suggests_works_through_run_experiment(tmp_path, make, suggested):
    src = make(tmp_path / 'src')
    args = ['tools/run_experiment.py', '--data', str(src), '--work-dir', str(tmp_path / 'work'),
            '--device', 'cpu', '--dry-run']
    refused = run_tool(args, check=False, timeout=600)
    assert refused.returncode != 0 and ' '.join(suggested) in refused.stderr
    out = run_tool(args + suggested, timeout=600).stdout
    assert 'run_experiment --dry-run:' in out
