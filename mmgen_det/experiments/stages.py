"""The work of each stage, one function per stage, and the mmdet configs the training stages run.

In: explicit paths and settings (no cache, no sweep: ``runner.py`` decides what runs). Out: files in
the stage folder and a small dict for its record (checkpoint, iterations, metrics, counts).

Every detector configuration is DERIVED from the one real-data detector config of the experiment,
so the arms differ only in what they must: the training set (real subset / synthetic set / both),
``load_from`` (fine-tuning), and the schedule, which the experiment sets for every stage alike:
iteration-based, validation on the real val split, best checkpoint by val mAP, early stop when val
mAP stops improving. Training and testing go through ``mmengine.runner.Runner``, as in mmdet's
``tools/train.py`` / ``tools/test.py``; each stage folder keeps the exact ``config.py`` it ran, which
those stock scripts accept unchanged.
"""
from __future__ import annotations

import contextlib
import copy
import gc
import os
import re
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from ..generation.set_format import ANNOTATIONS, kept_ids
from ..generation.settings import GenerationSettings, load_generation_settings
from ..recipes import schedule_cfg
from ..utils.config_files import dump_config
from ..utils.dataset_configs import inner_dataset
from ..utils.hashing import tree_files
from ..utils.io import atomic_write_json, read_json
from ..utils.memory import PeakRSS
from .config import Experiment, Filter, Schedule

if TYPE_CHECKING:
    from ..datasets.formats import ConvertedSplit

# hooks a stage sets from its schedule, replacing any of the base config's
STAGE_HOOKS = ('EarlyStoppingHook', 'DelayedEarlyStoppingHook', 'TrainingProgressHook')


@dataclass(frozen=True)
class RealData:
    """The converted real dataset: ``root`` (absolute, with trailing '/') and annotation files
    relative to it."""
    root: str
    val_ann: str
    test_ann: str


# -- output capture -------------------------------------------------------------------------------
@contextlib.contextmanager
def console_to(path: Path, verbose: bool) -> Iterator[None]:
    """Send a stage's console output (mmengine's log lines, warnings) to ``path`` unless ``verbose``;
    on failure, show its last lines, so the stage list on screen stays readable."""
    if verbose:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'a') as f, contextlib.redirect_stdout(f), contextlib.redirect_stderr(f):
        try:
            yield
        except BaseException:
            f.flush()
            tail = ''.join(path.read_text().splitlines(True)[-40:])
            print(f'--- last lines of {path} ---\n{tail}', file=sys.__stderr__, flush=True)
            raise


# -- data -----------------------------------------------------------------------------------------
def training_split(splits: list[ConvertedSplit]) -> ConvertedSplit | None:
    """The split the runs draw from: ``train``, or a lone split of another name; None when there is
    neither."""
    by_name = {s.name: s for s in splits}
    if 'train' in by_name:
        return by_name['train']
    return splits[0] if len(splits) == 1 and splits[0].name not in ('val', 'test') else None


def missing_held_out(splits: list[ConvertedSplit]) -> list[str]:
    """The held-out splits the data lacks: the data stage splits them off the training split."""
    return [name for name in ('val', 'test') if name not in {s.name for s in splits}]


def identical_images(split: ConvertedSplit) -> dict[int, str]:
    """Image id -> sha256 of the images of a converted split whose bytes another of its images repeats:
    the groups a split made from it keeps on one side."""
    by_id = {im['id']: split.hashes[im['file_name']] for im in split.coco['images']}
    repeats = Counter(by_id.values())
    return {image_id: digest for image_id, digest in by_id.items() if repeats[digest] > 1}


def files_read_outside(splits: list[ConvertedSplit], root: Path, fmt: str) -> list[Path]:
    """The files a read of the data used that :func:`~mmgen_det.utils.hashing.tree_digest` of ``root``
    does not cover: images beside a COCO json's folder or, with ``allow_outside_root``, anywhere, and
    the YOLO label files of those."""
    from ..datasets.formats.yolo import label_candidates
    covered = {os.path.realpath(path) for path in tree_files(root)}
    images = [path for split in splits for path in split.sources.values()
              if os.path.realpath(path) not in covered]
    labels = [label for image in images for label in label_candidates(image)] if fmt == 'yolo' else []
    return images + [p for p in labels if p.is_file() and os.path.realpath(p) not in covered]


def read_source(exp: Experiment) -> list[ConvertedSplit] | None:
    """The experiment's data source as read (and checked) with its data options; None where the source is
    not there (the data stage then says so, or plans from the declared counts)."""
    from ..datasets import read_dataset
    return read_dataset(exp.source, exp.format, **exp.read_options()) if Path(exp.source).exists() else None


def real_splits(splits: list[ConvertedSplit], split: dict[str, Any],
                source: str) -> tuple[dict[str, dict], dict | None]:
    """The ``train`` / ``val`` / ``test`` COCO of the read data as the data stage writes them, and the
    record of the held-out splits it carved (``None`` when the data has both).

    The data's own splits keep their images (categories in id order, as converted); a lone split of
    another name is the training split; a held-out split the data lacks is split off the training
    split (seeded, class-stratified, byte-identical images on one side). Writes nothing, so a dry run
    and init plan from exactly what the data stage will convert.
    """
    from ..datasets.formats.common import in_id_order
    from ..datasets.subsets import split_off
    train = training_split(splits)
    if train is None:
        raise ValueError(f'{source} has splits {[s.name for s in splits]} but no training split; the '
                         'protocol draws the real subsets from `train`')
    cocos = {('train' if s is train else s.name): {**s.coco, 'categories': in_id_order(s.coco['categories'])}
             for s in splits if s is train or s.name in ('val', 'test')}
    missing = missing_held_out(splits)
    if not missing:
        return cocos, None
    fractions = {s: float(split[s]) for s in missing}
    same = identical_images(train)
    parts = split_off(cocos['train'], fractions, int(split['seed']), source='annotations/train.json', groups=same)
    return {**cocos, **parts}, dict(split_off=missing, fractions=fractions, seed=int(split['seed']),
                                    num_images={k: len(v['images']) for k, v in parts.items()},
                                    identical_images=len(same))


def evaluated_split(coco: dict, name: str, num_images: int | None) -> tuple[dict, str]:
    """Split ``name`` as the runs read it, and its annotation file in the converted folder: a fixed
    (seed 0) subset of ``num_images`` where the split is larger (cheaper evaluation), else the whole."""
    from ..datasets import make_subset
    ann = f'annotations/{name}.json'
    if num_images is None or num_images >= len(coco['images']):
        return coco, ann
    return make_subset(coco, num_images, 0, source=ann), f'annotations/{name}_{num_images}.json'


def convert(source: str, fmt: str, out: Path, val_images: int | None, test_images: int | None,
            split: dict[str, Any], image_mode: str = 'copy', classes: list[str] | None = None,
            on_bad_image: str = 'fail', allow_outside_root: bool = False,
            read: list[ConvertedSplit] | None = None) -> dict:
    """Real data -> COCO under ``out``, the splits of :func:`real_splits` (held-out splits carved and
    recorded). Optional fixed (seed 0) val/test subsets make evaluation cheap. ``read``: the source as
    already read with these options (not decoded again)."""
    from ..datasets import convert_dataset
    from ..datasets.profile import coco_classes
    converted = convert_dataset(source, fmt, out, image_mode=image_mode, overwrite=True, classes=classes,
                                on_bad_image=on_bad_image, allow_outside_root=allow_outside_root, splits=read)
    ann_dir = out / 'annotations'
    cocos, split_record = real_splits(converted, split, source)
    train = training_split(converted)
    if train.name != 'train':
        os.replace(ann_dir / f'{train.name}.json', ann_dir / 'train.json')
    if split_record:
        missing = split_record['split_off']
        for name in ('train', *missing):
            atomic_write_json(ann_dir / f'{name}.json', cocos[name])
        print(f'{source} has no {" and no ".join(missing)} split: held out {split_record["fractions"]} of its '
              f"training images (class-stratified, seed {split['seed']}); train keeps {len(cocos['train']['images'])}",
              file=sys.__stderr__, flush=True)
        if split_record['identical_images']:
            groups = len(set(identical_images(train).values()))
            print(f"{split_record['identical_images']} training images repeat the bytes of another ({groups} "
                  'groups): each group was kept in one split', file=sys.__stderr__, flush=True)
    counts = {}
    anns = {}
    for name, n in (('train', None), ('val', val_images), ('test', test_images)):
        coco, anns[name] = evaluated_split(cocos[name], name, n)
        if coco is not cocos[name]:
            atomic_write_json(out / anns[name], coco)
        counts[name] = len(coco['images'])
    return dict(num_images=counts, ann_files=anns, split=split_record, classes=coco_classes(cocos['train']))


def subset(train_json: Path, num_real: int, seed: int, out: Path) -> dict:
    """The seeded N-image real training subset (nested in N for one seed; every class kept)."""
    from ..datasets import make_subset
    coco = read_json(train_json)
    atomic_write_json(out, make_subset(coco, num_real, seed, source=str(train_json)))
    return dict(num_images=num_real)


# -- detector configs -----------------------------------------------------------------------------
def load_detector_cfg(path: str, options: dict[str, Any]):
    """The mmdet config ``path`` with an experiment's ``cfg_options``, each of which it must read
    (:func:`~mmgen_det.experiments.cfg_options.check_cfg_options`)."""
    from mmengine.config import Config
    from .cfg_options import check_cfg_options
    cfg = Config.fromfile(path)
    if options:
        written = cfg.to_dict()
        cfg.merge_from_dict(dict(options))
        check_cfg_options(options, written, cfg.to_dict(), path)
    return cfg


def with_real_data(cfg, data: RealData, train_ann: str):
    """``cfg`` reading the real subset ``train_ann`` for training and the real val/test splits."""
    cfg = copy.deepcopy(cfg)
    inner_dataset(cfg.train_dataloader).update(data_root=data.root, ann_file=train_ann)
    for split, ann in (('val', data.val_ann), ('test', data.test_ann)):
        inner_dataset(cfg[f'{split}_dataloader']).update(data_root=data.root, ann_file=ann)
        evaluator = cfg[f'{split}_evaluator']
        if not isinstance(evaluator, dict):
            raise ValueError(f'{split}_evaluator must be one CocoMetric dict, got a {type(evaluator).__name__}')
        evaluator['ann_file'] = data.root + ann
    return cfg


def train_filter_cfg(filt: Filter, pr_key: str | None) -> dict[str, Any]:
    """The ``filter_cfg`` of a synthetic training set: images with boxes that pass ``filt`` on the PR
    scores stored under ``pr_key``. The stages count and split a set with it, so they keep exactly
    what the training dataset keeps."""
    filter_cfg = dict(filter_empty_gt=True)
    if filt.kind == 'pr':
        filter_cfg.update(min_precision=filt.min_precision, min_recall=filt.min_recall, pr_key=pr_key)
    return filter_cfg


def synthetic_dataset(real_cfg, set_dir: Path, filt: Filter, pr_key: str | None) -> dict:
    """A ``SyntheticDetDataset`` over a generated set, with the real training pipeline and classes,
    keeping the images that pass ``filt`` (decided at load time from the stored PR scores)."""
    real = inner_dataset(real_cfg.train_dataloader)
    return dict(type='SyntheticDetDataset', data_root=f'{set_dir}/', ann_file=ANNOTATIONS,
                data_prefix=dict(img=''), metainfo=copy.deepcopy(real['metainfo']),
                filter_cfg=train_filter_cfg(filt, pr_key), pipeline=copy.deepcopy(real['pipeline']))


def with_train_dataset(cfg, dataset: dict):
    cfg = copy.deepcopy(cfg)
    cfg.train_dataloader.dataset = dataset
    return cfg


def real_repeats(real_fraction: float | None, num_real: int, num_synthetic: int) -> int:
    """How many times the real images enter the mixed training set so they are about ``real_fraction``
    of its samples (``None``: once, plain concatenation). With 8 generated images per real one,
    concatenation shows a real image one sample in nine."""
    if real_fraction is None or num_synthetic == 0:
        return 1
    return max(1, round(real_fraction / (1 - real_fraction) * num_synthetic / num_real))


def mixed_dataset(real_cfg, synthetic: dict, repeats: int = 1) -> dict:
    """Synthetic and real images in one training set, the real ones ``repeats`` times."""
    real = copy.deepcopy(inner_dataset(real_cfg.train_dataloader))
    if repeats > 1:
        real = dict(type='RepeatDataset', times=repeats, dataset=real)
    return dict(type='ConcatDataset', datasets=[synthetic, real])


def runnable_config(cfg, schedule: Schedule | None, seed: int, work_dir: Path, name: str, launcher: str,
                    load_from: str | None = None, progress: str | None = None):
    """The runnable config of a stage: schedule, seed, folder, unique logger/visualizer names, and
    with ``progress`` a live progress line labelled so."""
    cfg = copy.deepcopy(cfg)
    if schedule is not None:
        sched = schedule_cfg(schedule)
        cfg.train_cfg = sched['train_cfg']
        cfg.param_scheduler = sched['param_scheduler']
        cfg.default_hooks.checkpoint = sched['checkpoint']
        cfg.log_processor = dict(cfg.get('log_processor', {}), by_epoch=False)
        cfg.custom_hooks = [h for h in cfg.get('custom_hooks', []) if h['type'] not in STAGE_HOOKS] + \
            sched['early_stopping']
        if progress:
            cfg.custom_hooks.append(dict(type='TrainingProgressHook', label=progress))
        # iteration-based training never needs an epoch end, and mmengine sleeps 2 s at each one: on a
        # few real images that is most of the wall time
        cfg.train_dataloader.sampler = dict(type='InfiniteSampler', shuffle=True)
    if load_from and not any(h['type'] == 'PretrainLoadCheckHook' for h in cfg.get('custom_hooks', [])):
        # a fine-tune whose backbone/neck did not load, or whose classes changed order, stops at once
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [dict(type='PretrainLoadCheckHook')]
    cfg.randomness = dict(seed=seed)
    cfg.work_dir = str(work_dir)
    cfg.load_from = load_from
    cfg.resume = False
    cfg.launcher = launcher
    cfg.experiment_name = name  # several Runners live in one process: keep their loggers apart
    if cfg.get('visualizer'):
        cfg.visualizer.name = name
    return cfg


# -- training and testing -------------------------------------------------------------------------
def _release(runner) -> None:
    """Free a finished Runner's dataloader workers, log files and memory before the next stage builds
    one (a sweep builds hundreds of Runners in one process)."""
    for handler in list(runner.logger.handlers):
        handler.close()
        runner.logger.removeHandler(handler)
    for loader in ('_train_dataloader', '_val_dataloader', '_test_dataloader'):
        setattr(runner, loader, None)
    del runner
    gc.collect()


def best_iteration(checkpoint: str) -> int | None:
    match = re.search(r'iter_(\d+)\.pth$', checkpoint)
    return int(match.group(1)) if match else None


def trained_backbone_init(runner) -> str:
    """How the backbone started: a fine-tune's pretrain record (``PretrainLoadCheckHook``), else what
    this run's backbone initialisation recorded."""
    from mmengine.model import is_model_wrapper
    from ..engine.pretrained_init import backbone_init
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    return runner.message_hub.get_info('backbone_init') or backbone_init(model)


def train(cfg, work_dir: Path) -> dict[str, Any]:
    """Train with ``Runner``; the record: best checkpoint (by val mAP), its score, iterations run, the
    backbone initialisation."""
    from mmengine.runner import Runner
    work_dir.mkdir(parents=True, exist_ok=True)
    dump_config(cfg, work_dir / 'config.py')
    runner = Runner.from_cfg(cfg)
    runner.train()
    checkpoint = runner.message_hub.get_info('best_ckpt')
    val_map = runner.message_hub.get_info('best_score')
    computed = bool(checkpoint)
    if not computed:
        # CocoMetric returns no metrics when a model detects nothing at all (an untrained one): no
        # validation picked a best checkpoint, so the last one is tested; the record says so
        checkpoint, val_map = runner.message_hub.get_info('last_ckpt'), None
    # the file name only: the record stays valid when the work dir moves
    record = dict(checkpoint=Path(checkpoint).name, iterations=int(runner.iter),
                  best_iter=best_iteration(checkpoint) if computed else None,
                  val_mAP=None if val_map is None else float(val_map), val_metrics_computed=computed,
                  backbone_init=trained_backbone_init(runner))
    _release(runner)
    return record


#: what a test keeps beside its metrics: every detection, as COCO results json (``CocoMetric``'s
#: ``outfile_prefix`` + ``.bbox.json``), so statistics over test images need no model
DETECTIONS = 'detections.bbox.json'


def test(cfg, checkpoint: str, work_dir: Path) -> dict[str, Any]:
    """Evaluate ``checkpoint`` once on the test split with per-class AP, keeping its detections
    (:data:`DETECTIONS`); writes ``config.py``, which ``tools/test.py config.py CHECKPOINT`` reproduces."""
    from mmengine.runner import Runner
    cfg = copy.deepcopy(cfg)
    cfg.test_evaluator['classwise'] = True
    cfg.load_from = checkpoint
    work_dir.mkdir(parents=True, exist_ok=True)
    dump_config(cfg, work_dir / 'config.py')  # without the outfile: a rerun of it does not overwrite ours
    cfg.test_evaluator['outfile_prefix'] = str(work_dir / DETECTIONS.removesuffix('.bbox.json'))
    runner = Runner.from_cfg(cfg)
    metrics = {k: float(v) for k, v in runner.test().items()}
    _release(runner)
    atomic_write_json(work_dir / 'metrics.json', metrics, indent=1)
    return dict(metrics=metrics, detections=DETECTIONS)


# -- generation and filtering ---------------------------------------------------------------------
def load_generation(config: str) -> GenerationSettings:
    """The generation settings of a generation config: its training set's, wherever it sits in dataset
    wrappers (:func:`~mmgen_det.generation.settings.load_generation_settings`)."""
    from mmengine.config import Config
    return load_generation_settings(Config.fromfile(config), config)


def bind_real_data(generation: dict[str, Any], ann_file: str, img_root: str) -> dict[str, Any]:
    """Deprecated: ``GenerationSettings.with_real_data`` (this is it on a plain ``generation`` dict)."""
    warnings.warn('bind_real_data is deprecated: use GenerationSettings.with_real_data', FutureWarning,
                  stacklevel=2)
    return GenerationSettings.from_dict(generation).with_real_data(ann_file, img_root).to_dict()


def generate(settings: GenerationSettings, out_dir: Path, num_images: int, seed: int) -> dict:
    from ..generation.synthetic_set import generate_synthetic_set
    cfg = replace(settings, out_dir=str(out_dir), num_images=num_images, seed=seed).to_dict()
    summary = generate_synthetic_set(cfg, progress=False)
    return dict(num_images=summary.num_images, generated_now=summary.generated_now)


def score(set_dir: Path, detector_config: str, checkpoint: str, score_thr: float, iou_thr: float,
          class_aware: bool) -> dict:
    """Score every image of the set with the filter detector; the scores land in its annotations.json."""
    import torch
    from ..filters.pr_filter import FilterDetector, MatchSettings
    from ..filters.scoring import score_set
    device = 'cuda:0' if torch.cuda.is_available() else 'cpu'
    detector = FilterDetector(detector_config, checkpoint, device=device)
    # the progress bar (rate, ETA) goes to the screen, not to the stage's console.log
    with contextlib.redirect_stderr(sys.__stderr__):
        summary = score_set(set_dir, detector, MatchSettings(score_thr, iou_thr, class_aware))
    return dict(pr_key=summary.key, failed=summary.failed)


def kept_images(ann_file: Path, filter_cfg: dict[str, Any]) -> int:
    """How many images of a set's annotation file (the whole set, or a split of it) a synthetic dataset
    with ``filter_cfg`` (:func:`train_filter_cfg`) keeps."""
    return len(kept_ids(read_json(ann_file), filter_cfg, str(ann_file)))


def synthetic_split_file(out: Path, name: str) -> Path:
    """Where :func:`split_synthetic` writes part ``name`` (``'train'`` or ``'val'``)."""
    return out / f'synthetic_{name}.json'


def split_synthetic(set_dir: Path, filter_cfg: dict[str, Any], fraction: float, seed: int,
                    out: Path) -> dict[str, Path]:
    """The images of a set that ``filter_cfg`` keeps, split into ``train``/``val`` annotation files under
    ``out`` (seeded, class-stratified; file names stay relative to ``set_dir``): pretraining picks its
    checkpoint on generated images it never trained on, as the reference does."""
    from ..datasets.subsets import split_off
    coco = read_json(set_dir / ANNOTATIONS)
    kept = set(kept_ids(coco, filter_cfg, str(set_dir / ANNOTATIONS)))
    coco = dict(coco, images=[im for im in coco['images'] if im['id'] in kept],
                annotations=[a for a in coco['annotations'] if a['image_id'] in kept])
    parts = split_off(coco, dict(val=fraction), seed, source=str(set_dir / ANNOTATIONS))
    paths = {}
    for name in ('train', 'val'):
        paths[name] = synthetic_split_file(out, name)
        atomic_write_json(paths[name], parts[name])
    return paths


def with_synthetic_val(cfg, set_dir: Path, val_json: Path):
    """``cfg`` validating (and choosing its best checkpoint) on held-out generated images."""
    cfg = copy.deepcopy(cfg)
    val = inner_dataset(cfg.val_dataloader)
    cfg.val_dataloader.dataset = dict(type='SyntheticDetDataset', data_root=f'{set_dir}/', ann_file=str(val_json),
                                      data_prefix=dict(img=''), metainfo=copy.deepcopy(val['metainfo']),
                                      test_mode=True, pipeline=copy.deepcopy(val['pipeline']))
    cfg.val_evaluator['ann_file'] = str(val_json)
    return cfg


def timed(fn, *args, **kwargs) -> dict[str, Any]:
    """``fn``'s record plus its wall time and the peak resident memory of this process meanwhile."""
    start = time.monotonic()
    with PeakRSS() as memory:
        out = fn(*args, **kwargs)
    return dict(out, seconds=round(time.monotonic() - start, 2), peak_rss_mib=memory.peak_mib)
