"""Hostile input: a dataset's class names never become code, and every settings key is checked.

* Class names go into Python configs that ``Config.fromfile`` executes (detector.py, generation_*.py,
  experiment.py, each stage's config.py). Names with quotes, backslashes, line breaks, ``</script>``,
  markdown, HTML, mmengine's ``{{ ... }}`` templates, or Python written to break out of a literal, must
  read back unchanged through init and a dry run, and run nothing.
* A misspelt key of the experiment config, of a ``generation`` dict (its layout and generator) or of
  ``SyntheticDetDataset``'s ``filter_cfg`` stops with an error naming it and the closest known key,
  instead of leaving the default silently in force.
"""
from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import pytest
from helpers import REPO, run_tool, write_image, yolo_folder
from mmengine.config import Config

from mmgen_det.datasets.synthetic_dataset import SyntheticDetDataset
from mmgen_det.experiments.config import ExperimentConfigError, load_experiment, validate
from mmgen_det.experiments.init import InitSettings, init_experiment
from mmgen_det.experiments.stages import load_generation
from mmgen_det.generation import generate_synthetic_set
from mmgen_det.generation.gligen_settings import phrase_table
from mmgen_det.generation.synthetic_set import pixel_settings
from mmgen_det.utils.dataset_configs import inner_dataset
from mmgen_det.utils.config_files import dump_config
from mmgen_det.utils.keys import UnknownKeyError

PWNED = 'pwned'
INJECTION = f"a': __import__('pathlib').Path('{PWNED}').touch(), 'b"
# each set breaks the old configs (phrases keyed by class name) in its own way
HOSTILE_NAMES = {
    'yolo-code': [INJECTION, 'cod'],
    'yolo-quotes-markup': ["jack's fish", 'say "hi"', '</script><script>alert(1)</script>', '**bold** [x](y) | `c`',
                           '<b>fish</b> &amp;', '# heading', 'class'],
    # control characters are refused by the converter; their escapes, written out, must stay text
    'coco-escapes': ['line\\nbreak', 'back\\slash', 'tab\\tand\\rreturn', '\\', 'trailing\\'],
    'coco-mmengine-templates': ['{{ fileDirname }}', '{{$HOME:x}}', '{{_base_.x}}', '{{$NOPE:a\\nb}}'],
}
TEXT_GENERATOR = 'gligen-text'


def coco_folder(root: Path, classes: list[str], images: int = 12, size: tuple[int, int] = (320, 240)) -> Path:
    """``root/train.json`` and its images: names of any characters, which only a json holds."""
    anns = []
    for i in range(images):
        write_image(root / f'{i:03d}.jpg', size, i)
        for k in range(1 + i % 3):
            x = 20 + 60 * k
            anns.append(dict(id=len(anns) + 1, image_id=i + 1, category_id=(i + k) % len(classes) + 1,
                             bbox=[x, 40, 48, 48], area=48 * 48, iscrowd=0))
    coco = dict(images=[dict(id=i + 1, file_name=f'{i:03d}.jpg', width=size[0], height=size[1])
                        for i in range(images)],
                annotations=anns, categories=[dict(id=k + 1, name=c) for k, c in enumerate(classes)])
    (root / 'train.json').write_text(json.dumps(coco))
    return root


def dataset(root: Path, kind: str) -> Path:
    """YOLO (``classes.txt``), the reported case, or COCO for names no text file can hold."""
    if kind.startswith('coco'):
        return coco_folder(root, HOSTILE_NAMES[kind])
    return yolo_folder(root, HOSTILE_NAMES[kind], (320, 240), 0.2, 12)


def read_back(out: Path) -> dict[str, list[str]]:
    """The class names in every file init wrote, as Python reads them."""
    det = Config.fromfile(str(out / 'configs' / 'detector.py'))
    gen = Config.fromfile(str(out / 'configs' / f'generation_{TEXT_GENERATOR}.py'))
    exp = load_experiment(out / 'experiment.py')
    generation = exp.derived['generation'][TEXT_GENERATOR]
    return {
        **{f'detector {split}': list(inner_dataset(det[f'{split}_dataloader'])['metainfo']['classes'])
           for split in ('train', 'val', 'test')},
        'generation dataset': list(inner_dataset(gen.train_dataloader)['metainfo']['classes']),
        'generation phrases': list(phrase_table(inner_dataset(gen.train_dataloader).generation.generator.phrases)),
        'experiment derived': exp.derived['classes'],
        'experiment derived phrases': list(phrase_table(generation['phrases'])),
        'data_profile.json': json.loads((out / 'data_profile.json').read_text())['classes'],
    }


@pytest.mark.parametrize('kind', sorted(HOSTILE_NAMES))
def test_class_names_stay_data_through_init_and_dry_run(tmp_path, monkeypatch, kind):
    classes = HOSTILE_NAMES[kind]
    monkeypatch.chdir(tmp_path)  # where an executed name would drop its file
    src = dataset(tmp_path / 'data', kind)
    out = tmp_path / 'work'
    args = ['--data', str(src), '--generator', 'copy-paste', TEXT_GENERATOR, '--device', 'cpu', '--allow-cpu-gligen',
            '--work-dir', str(out)]
    proc = run_tool([str(REPO / 'tools' / 'run_experiment.py'), *args, '--dry-run'], cwd=tmp_path, timeout=300)
    assert 'stages resolved' in proc.stdout
    for where, names in read_back(out).items():
        assert not list(tmp_path.rglob(PWNED)) and not (REPO / PWNED).exists(), f'{where} ran a class name'
        assert names == classes, where


def test_class_names_stay_data_in_every_stage_config(tmp_path, monkeypatch):
    """The runner's stage configs (``config.py``, read back by the filter stage) hold the names as
    written, whatever they are."""
    classes = [name for names in HOSTILE_NAMES.values() for name in names]
    monkeypatch.chdir(tmp_path)
    cfg = Config(dict(train_dataloader=dict(dataset=dict(metainfo=dict(classes=tuple(classes)))),
                      phrases=[[c, c] for c in classes]))
    dump_config(cfg, tmp_path / 'config.py')
    back = Config.fromfile(str(tmp_path / 'config.py'))
    assert list(back.train_dataloader.dataset.metainfo.classes) == classes
    assert phrase_table(back.phrases) == {c: c for c in classes}
    assert not (tmp_path / PWNED).exists()


def test_both_written_forms_of_phrases_are_the_same_settings():
    """Pairs (what init writes now) and a dict (hand-written, and older derived configs) give the same
    generator settings: the same cache keys and the same resumable sets."""
    generation = load_generation(str(REPO / 'configs/_base_/generation/gligen_text-box_fish4knowledge.py')).to_dict()
    as_dict = generation['generator']['phrases']
    as_pairs = copy.deepcopy(generation)
    as_pairs['generator']['phrases'] = [[name, phrase] for name, phrase in as_dict.items()]
    assert pixel_settings(as_pairs) == pixel_settings(generation)
    assert phrase_table(as_pairs['generator']['phrases']) == phrase_table(as_dict) == as_dict
    with pytest.raises(ValueError, match="class '0' twice"):
        phrase_table([['0', 'a fish'], ['0', 'a ray']])


# ----------------------------------------------------------------------------- every key is checked
DETECTOR = str(REPO / 'configs/demo/fcos_r18_real-only_fish4knowledge-mini.py')
COPY_PASTE = str(REPO / 'configs/_base_/generation/copy-paste_fish4knowledge.py')
EXPERIMENT = dict(
    data=dict(source='data/fish4knowledge-mini', format='yolo', val_images=20),
    detector=DETECTOR, num_real=[10], seeds=[0], arms=['real-only', 'synthetic-pretrain'],
    generators={'copy-paste': dict(config=COPY_PASTE, images_per_real=3)},
    filters={'none': None, 'pr': dict(type='pr', min_precision=0.1, min_recall=0.1)},
    filter_detector=dict(config=DETECTOR, score_thr=0.05, iou_thr=0.3),
    schedules=dict(default=dict(max_iters=10, val_interval=5)),
    estimate=dict(seconds_per_iter=0.1), mixed_real_fraction=None)


def misspelt(cfg: dict, path: str, typo: str) -> dict:
    """``cfg`` with the key at ``path`` (dotted) renamed to ``typo``."""
    cfg = copy.deepcopy(cfg)
    *parents, key = path.split('.')
    node = cfg
    for parent in parents:
        node = node[parent]
    node[typo] = node.pop(key)
    return cfg


def assert_names(err: pytest.ExceptionInfo, typo: str, meant: str) -> None:
    message = str(err.value)
    assert isinstance(err.value, UnknownKeyError)
    assert f"unknown keys [{typo!r}] (did you mean {meant!r}?)" in message, message
    assert meant in message.split('allowed: ')[1], message


@pytest.mark.parametrize('path, typo', [
    ('mixed_real_fraction', 'mixed_real_fracton'),
    ('data.val_images', 'val_image'),
    ('generators.copy-paste.images_per_real', 'images_per_rael'),
    ('filters.pr.min_precision', 'min_precison'),
    ('filter_detector.iou_thr', 'iou_thres'),
    ('estimate.seconds_per_iter', 'seconds_per_iters'),
    ('schedules.default.val_interval', 'val_intervall'),
])
def test_misspelt_experiment_keys_are_errors(path, typo):
    with pytest.raises(ExperimentConfigError) as err:
        validate(misspelt(EXPERIMENT, path, typo))
    assert_names(err, typo, path.rsplit('.', 1)[-1])


def test_a_misspelt_key_stops_the_dry_run_in_one_line(tmp_path):
    proc = run_tool(['tools/run_experiment.py', 'configs/experiments/demo_fish4knowledge-mini.py', '--dry-run',
                     '--work-dir', str(tmp_path / 'work'), '--cfg-options', 'data.val_image=5'], check=False)
    assert proc.returncode != 0 and not (tmp_path / 'work').exists()
    assert "run_experiment: data: unknown keys ['val_image'] (did you mean 'val_images'?)" in proc.stderr


@pytest.fixture(scope='module')
def copy_paste_generation(fish_coco) -> dict:
    """The shipped copy-paste generation dict on the converted sample."""
    generation = load_generation(COPY_PASTE).to_dict()
    generation['layout']['ann_file'] = str(fish_coco / 'annotations' / 'train.json')
    generation['generator'].update(ann_file=generation['layout']['ann_file'], img_root=str(fish_coco))
    return dict(generation, num_images=2)


@pytest.mark.parametrize('path, typo', [
    ('num_images', 'num_image'),
    ('image_format', 'img_format'),
    ('layout.min_box_cells', 'min_box_cell'),
    ('generator.img_root', 'image_root'),
])
def test_misspelt_generation_keys_are_errors_before_anything_is_written(copy_paste_generation, tmp_path, path,
                                                                        typo):
    bad = misspelt(copy_paste_generation, path, typo)
    with pytest.raises(UnknownKeyError) as err:
        pixel_settings(bad)  # what the dry run and the stage cache key read
    assert_names(err, typo, path.rsplit('.', 1)[-1])
    with pytest.raises(UnknownKeyError):
        generate_synthetic_set(dict(bad, out_dir=str(tmp_path / 'set')), progress=False)
    assert not (tmp_path / 'set').exists()


def test_misspelt_gligen_keys_are_errors_without_loading_a_model():
    generation = load_generation(str(REPO / 'configs/_base_/generation/gligen_text-box_fish4knowledge.py')).to_dict()
    with pytest.raises(UnknownKeyError) as err:
        pixel_settings(misspelt(generation, 'generator.phrases', 'phrasess'))
    assert_names(err, 'phrasess', 'phrases')


@pytest.mark.parametrize('key, typo', [('min_precision', 'min_precison'), ('max_feature_distance', 'max_feature_dist'),
                                       ('filter_empty_gt', 'filter_empty')])
def test_misspelt_filter_cfg_keys_are_errors(tmp_path, key, typo):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        with pytest.raises(UnknownKeyError) as err:
            SyntheticDetDataset(data_root=str(tmp_path), ann_file='annotations.json', metainfo=dict(classes=('a', )),
                                filter_cfg={typo: 0.5}, pipeline=[])
    assert_names(err, typo, key)


def test_misspelt_generation_of_a_synthetic_dataset_is_an_error(copy_paste_generation, tmp_path):
    with pytest.raises(UnknownKeyError) as err:
        SyntheticDetDataset(data_root=str(tmp_path), ann_file='annotations.json', metainfo=dict(classes=('a', )),
                            generation=misspelt(copy_paste_generation, 'seed', 'sead'), pipeline=[])
    assert_names(err, 'sead', 'seed')


def test_mmengine_keys_and_helper_variables_are_not_typos(tmp_path):
    """What mmengine's inheritance leaves (``_delete_``...) and ``_``-prefixed helper variables."""
    config = tmp_path / 'exp.py'
    config.write_text(f"_base_ = [{str(REPO / 'configs/experiments/demo_fish4knowledge-mini.py')!r}]\n"
                      "_my_seeds = [3]\nseeds = _my_seeds\nfilters = {'_delete_': True, 'none': None}\n")
    assert load_experiment(config).seeds == [3]
