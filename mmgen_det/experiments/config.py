"""The experiment config: what a sweep varies and how every stage is run, validated once.

In: an mmengine-style Python file (``_base_`` inheritance works; dicts merge, lists replace) with the
top-level keys below, plus ``--cfg-options`` overrides. Out: an :class:`Experiment` whose fields are
checked, with messages that say what was wrong and what is allowed. Nothing here imports mmdet, so
the schema is checked (and ``--dry-run`` planned) before any model code loads.

Keys::

    data = dict(source='data/fish4knowledge-mini', format='auto',   # convert_dataset input
                classes=None,                                       # YOLO without names: ['a', 'b']
                val_images=None, test_images=None,                  # None: whole split; int: fixed subset
                split=dict(val=0.15, test=0.15, seed=0),            # held out when the data has no val/test
                image_mode='copy',                                  # or 'symlink'
                on_bad_image='fail',                                # or 'skip': an image OpenCV cannot decode
                allow_outside_root=False,                           # True: paths may leave the data folder
                num_images=dict(train=200, val=50, test=50))        # declared sizes (dry run w/o data)
    detector = 'configs/demo/fcos_r18_real-only_fish4knowledge-mini.py'  # real-data mmdet config;
                                                  # pretrain / finetune / mixed are derived from it
    # or dict(real=..., finetune=...): a stage's own base config (e.g. one with a load check hook);
    # its train data, schedule and load_from are still set by the runner
    num_real = [10, 50, 'all']                    # N: real training images ('all': the whole split)
    seeds = [0, 1, 2]                             # a seed picks the real subset AND seeds the training
    arms = ['real-only', 'synthetic-pretrain', 'mixed', 'synthetic-only', 'compute-matched']
    generators = {'copy-paste': dict(config='configs/_base_/generation/copy-paste_fish4knowledge.py',
                                     images_per_real=30, max_images=None)}
    filters = {'none': None, 'pr': dict(type='pr', min_precision=0.01, min_recall=0.5)}  # measured defaults
    filter_detector = dict(config='configs/filter/...py', score_thr=0.05, iou_thr=0.3,  # measured defaults
                           class_aware=False, schedule=dict(...))   # needed by 'pr' filters only
    schedules = dict(default=dict(max_iters=600, val_interval=100, patience=3, min_delta=0.001,
                                  warmup_iters=50, lr_steps=(0.75,), lr_decay='step'),  # or 'cosine'
                     pretrain=dict(...), finetune=dict(...), mixed=dict(...))  # merged over default
    schedule_scale = 1        # every schedule (and the filter detector's) this many times as long: train
                              # longer without changing how the arms' lengths relate
    pretrain_val = 'real'     # the pretrain checkpoint is chosen on the real val split, or 'synthetic':
                              # on 15% of the generated set held out from pretraining (the reference's way)
    mixed_real_fraction = None  # mixed arm: None concatenates (each image once an epoch), or the share of
                                # training samples drawn from the real images (0.5: as many as generated)
    cfg_options = {'train_dataloader.num_workers': 0}   # applied to every stage's mmdet config
    derived = dict(...)   # what tools/init_experiment.py derived from the data (recorded in the report)
    estimate = dict(seconds_per_iter=0.5, seconds_per_eval_image=0.05, seconds_per_scored_image=0.05,
                    seconds_per_generated_image={'copy-paste': 0.01, 'gligen-text': 3.0},
                    device='GPU', basis='timed on one A100, batch 8 at 720x404')  # the kind of machine the
                    # rates are for, and where they come from: the dry run prints both with its estimate

Every other key is an error naming the closest known one: a misspelt key would otherwise leave its
default in force unnoticed. Top-level names starting with ``_`` are the file's own helper variables.
``cfg_options`` (mmdet config keys) are checked against the detector configs when the runner loads them
(:mod:`.cfg_options`); ``derived`` (a record) is not checked.

With the ``compute-matched`` arm and fixed-length schedules (no early stop), every generated-data arm
must train as many iterations in all as the control, which trains as long as the longest of them: a
schedule edit that breaks this is refused (see :func:`check_compute_matched`).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..datasets.formats import FORMAT_CHOICES, ON_BAD_IMAGE
from ..filters.matching import DEFAULT_IOU_THR, DEFAULT_SCORE_THR
from ..utils.keys import UnknownKeyError, check_keys

ARMS = ('real-only', 'synthetic-pretrain', 'mixed', 'synthetic-only', 'compute-matched')
SYNTHETIC_ARMS = ('synthetic-pretrain', 'mixed', 'synthetic-only')
IMAGE_MODES = ('copy', 'symlink')
DEFAULT_SPLIT = dict(val=0.15, test=0.15, seed=0)
TRAINING_STAGES = ('real', 'pretrain', 'finetune', 'mixed', 'compute-matched', 'filter-detector')
MONITOR = 'coco/bbox_mAP'
PRETRAIN_VAL = ('real', 'synthetic')
LR_DECAYS = ('step', 'cosine')
#: the share of a generated set held out to choose the pretrain checkpoint with pretrain_val='synthetic'
SYNTHETIC_VAL_FRACTION = 0.15
EXPERIMENT_KEYS = ('name', 'data', 'detector', 'num_real', 'seeds', 'arms', 'generators', 'filters',
                   'filter_detector', 'schedules', 'schedule_scale', 'pretrain_val', 'mixed_real_fraction',
                   'cfg_options', 'derived', 'estimate')
DATA_KEYS = ('source', 'format', 'classes', 'split', 'image_mode', 'on_bad_image', 'allow_outside_root', 'val_images',
             'test_images', 'num_images')
SPLIT_NAMES = ('train', 'val', 'test')
#: the data options every read of the source takes (``Experiment.read_options``, ``InitSettings.read_options``)
READ_OPTIONS = ('classes', 'on_bad_image', 'allow_outside_root')
#: the training stages of each generated-data arm: its iterations in all, which its control matches
ARM_STAGES = {'synthetic-pretrain': ('pretrain', 'finetune'), 'mixed': ('mixed',),
              'synthetic-only': ('pretrain',)}
FILTER_KEYS = ('type', 'min_precision', 'min_recall')
ESTIMATE_KEYS = ('device', 'basis', 'seconds_per_iter', 'seconds_per_eval_image', 'seconds_per_scored_image',
                 'seconds_per_generated_image')


class ExperimentConfigError(ValueError):
    """A key of the experiment config is missing or has a value that is not allowed."""


class UnknownExperimentKeyError(ExperimentConfigError, UnknownKeyError):
    """A key the experiment config schema does not have."""


@dataclass(frozen=True)
class Schedule:
    """How long one training stage may run, and when it stops: val mAP not improving by ``min_delta``
    for ``patience`` validations (``patience=None``: run all ``max_iters``), counted only from
    ``early_stop_begin`` x ``max_iters`` on: a from-scratch detector's mAP stays flat at first.
    ``lr_decay``: ``'step'`` (x0.1 at each ``lr_steps`` fraction) or ``'cosine'`` (to 0 at ``max_iters``,
    what short fixed-length runs learn fastest with)."""
    max_iters: int
    val_interval: int
    patience: int | None = 3
    min_delta: float = 0.001
    warmup_iters: int = 50
    lr_steps: tuple[float, ...] = (0.75,)
    early_stop_begin: float = 0.0
    lr_decay: str = 'step'

    def __post_init__(self) -> None:
        if self.max_iters < 1 or self.val_interval < 1:
            raise ExperimentConfigError(f'schedule max_iters and val_interval must be >= 1, got {self}')
        if self.patience is not None and self.patience < 1:
            raise ExperimentConfigError(f'schedule patience must be >= 1 or None, got {self.patience}')
        if not 0 <= self.early_stop_begin < 1:
            raise ExperimentConfigError(f'schedule early_stop_begin is a fraction of max_iters in [0, 1), got '
                                        f'{self.early_stop_begin}')
        if self.lr_decay not in LR_DECAYS:
            raise ExperimentConfigError(f'schedule lr_decay must be one of {LR_DECAYS}, got {self.lr_decay!r}')
        if any(not 0 < s < 1 for s in self.lr_steps):
            raise ExperimentConfigError(f'schedule lr_steps are fractions of max_iters in (0, 1), got '
                                        f'{self.lr_steps}')

    def scaled(self, factor: float) -> 'Schedule':
        """``factor`` times as long: iterations, validation interval and warmup (early stop and LR steps
        are counted in validations and fractions, so they scale with them)."""
        if factor == 1:
            return self
        return replace(self, max_iters=max(1, round(self.max_iters * factor)),
                       val_interval=max(1, round(self.val_interval * factor)),
                       warmup_iters=round(self.warmup_iters * factor))

    def fixed(self, iters: int) -> 'Schedule':
        """Exactly ``iters`` iterations, no early stop: the compute-matched control."""
        return replace(self, max_iters=iters, val_interval=min(self.val_interval, iters), patience=None,
                       warmup_iters=min(self.warmup_iters, iters))


@dataclass(frozen=True)
class Generator:
    name: str
    config: str
    images_per_real: float
    max_images: int | None = None

    def num_images(self, num_real: int) -> int:
        """Synthetic images generated for a run with ``num_real`` real images."""
        n = max(1, round(self.images_per_real * num_real))
        return min(n, self.max_images) if self.max_images else n


@dataclass(frozen=True)
class Filter:
    """``None`` thresholds mean no bound; a filter with ``kind='none'`` keeps every image."""
    name: str
    kind: str = 'none'
    min_precision: float | None = None
    min_recall: float | None = None


@dataclass(frozen=True)
class FilterDetector:
    config: str
    schedule: Schedule
    score_thr: float = DEFAULT_SCORE_THR
    iou_thr: float = DEFAULT_IOU_THR
    class_aware: bool = False


@dataclass
class Experiment:
    name: str
    source: str
    format: str
    detector: dict[str, str]
    num_real: list[int | str]
    seeds: list[int]
    arms: list[str]
    generators: dict[str, Generator]
    filters: dict[str, Filter]
    schedules: dict[str, Schedule]
    val_images: int | None = None
    test_images: int | None = None
    classes: list[str] | None = None
    split: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_SPLIT))
    image_mode: str = 'copy'
    on_bad_image: str = 'fail'
    allow_outside_root: bool = False
    declared_images: dict[str, int] = field(default_factory=dict)
    derived: dict[str, Any] = field(default_factory=dict)
    filter_detector: FilterDetector | None = None
    pretrain_val: str = 'real'
    mixed_real_fraction: float | None = None
    cfg_options: dict[str, Any] = field(default_factory=dict)
    estimate: dict[str, Any] = field(default_factory=dict)
    filename: str = ''

    def schedule(self, stage: str) -> Schedule:
        return self.schedules.get(stage, self.schedules['default'])

    def detector_config(self, stage: str) -> str:
        """The mmdet config a training stage derives from: its own if given, else the real one."""
        return self.detector.get(stage, self.detector['real'])

    def read_options(self) -> dict[str, Any]:
        """What every read of the data source takes (plan, dry run, data stage), kept in one place so
        that an option given once reaches them all."""
        return {key: getattr(self, key) for key in READ_OPTIONS}

    @property
    def synthetic_arms(self) -> list[str]:
        return [a for a in self.arms if a in SYNTHETIC_ARMS]

    def settings(self) -> dict[str, Any]:
        """Everything that defines the sweep, as plain data (for report.md)."""
        def plain(x: Any) -> Any:
            if hasattr(x, '__dataclass_fields__'):
                return {f.name: plain(getattr(x, f.name)) for f in fields(x)}
            if isinstance(x, dict):
                return {k: plain(v) for k, v in x.items()}
            return list(x) if isinstance(x, tuple) else x
        return plain(self)


# -- validation -----------------------------------------------------------------------------------
def _check_keys(raw: Mapping | Sequence, allowed: Sequence[str], where: str) -> None:
    """:func:`check_keys`, failing as an :class:`ExperimentConfigError` like every schema check."""
    check_keys(raw, allowed, where, UnknownExperimentKeyError)


def _need(cfg: Mapping, key: str, where: str = 'experiment config') -> Any:
    if key not in cfg or cfg[key] is None:
        raise ExperimentConfigError(f'{where} lacks `{key}`; see mmgen_det/experiments/config.py for the keys')
    return cfg[key]


def _existing_file(path: str, what: str) -> str:
    if not Path(path).is_file():
        raise ExperimentConfigError(f'{what} {path!r} does not exist (paths are relative to the directory '
                                    'tools/run_experiment.py runs in, normally the repository root)')
    return str(path)


def _schedule(raw: Mapping, where: str) -> Schedule:
    _check_keys(raw, [f.name for f in fields(Schedule)], where)
    raw = dict(raw)
    if 'lr_steps' in raw:
        raw['lr_steps'] = tuple(raw['lr_steps'])
    try:
        return Schedule(**raw)
    except TypeError as e:
        raise ExperimentConfigError(f'{where}: {e}') from None


def _threshold(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if not 0.0 <= float(value) <= 1.0:
        raise ExperimentConfigError(f'{what} must be in [0, 1] or None, got {value}')
    return float(value)


def check_num_real(values: Sequence) -> list[int | str]:
    """``num_real`` entries: positive ints or ``'all'``, each once (checked against the data by
    ``plan.resolve_num_real``)."""
    out: list[int | str] = []
    for v in values:
        if v == 'all' or (isinstance(v, int) and not isinstance(v, bool) and v > 0):
            out.append(v)
        else:
            raise ExperimentConfigError(f"num_real entries must be positive ints or 'all', got {v!r}")
    if len(set(out)) != len(out):
        raise ExperimentConfigError(f'num_real has duplicates: {list(values)}')
    return out


def _filters(raw: Mapping) -> dict[str, Filter]:
    out = {}
    for name, spec in raw.items():
        if isinstance(spec, Mapping):
            _check_keys(spec, FILTER_KEYS, f'filters[{name!r}]')
        if spec is None or spec == {} or (isinstance(spec, Mapping) and spec.get('type') == 'none'):
            out[name] = Filter(name)
            continue
        if not isinstance(spec, Mapping) or spec.get('type') != 'pr':
            raise ExperimentConfigError(f"filters[{name!r}] must be None or dict(type='pr', min_precision=..., "
                                        f'min_recall=...), got {spec!r}')
        p = _threshold(spec.get('min_precision'), f'filters[{name!r}].min_precision')
        r = _threshold(spec.get('min_recall'), f'filters[{name!r}].min_recall')
        if p is None and r is None:
            raise ExperimentConfigError(f'filters[{name!r}]: a PR filter needs min_precision and/or min_recall')
        out[name] = Filter(name, 'pr', p, r)
    return out


def _generators(raw: Mapping) -> dict[str, Generator]:
    out = {}
    for name, spec in raw.items():
        where = f'generators[{name!r}]'
        if not isinstance(spec, Mapping):
            raise ExperimentConfigError(f'{where} must be dict(config=..., images_per_real=...), got {spec!r}')
        _check_keys(spec, [f.name for f in fields(Generator) if f.name != 'name'], where)
        per_real = float(_need(spec, 'images_per_real', where))
        if per_real <= 0:
            raise ExperimentConfigError(f'{where}.images_per_real must be > 0, got {per_real}')
        max_images = spec.get('max_images')
        if max_images is not None and int(max_images) < 1:
            raise ExperimentConfigError(f'{where}.max_images must be >= 1 or None, got {max_images}')
        out[name] = Generator(name, _existing_file(_need(spec, 'config', where), f'{where}.config'),
                              per_real, None if max_images is None else int(max_images))
    return out


def _detector(raw: str | Mapping) -> dict[str, str]:
    raw = {'real': raw} if isinstance(raw, str) else dict(raw)
    if 'real' not in raw:
        raise ExperimentConfigError(f'detector must be a config path or dict(real=PATH, ...), got {raw!r}')
    _check_keys(raw, TRAINING_STAGES, 'detector')
    return {stage: _existing_file(path, f'detector.{stage}') for stage, path in raw.items()}


def _ints(values: Sequence, what: str, minimum: int = 0) -> list[int]:
    if not values or any(not isinstance(v, int) or isinstance(v, bool) or v < minimum for v in values):
        raise ExperimentConfigError(f'{what} must be a non-empty list of ints >= {minimum}, got {values!r}')
    return list(values)


def check_seeds(values: Sequence) -> list[int]:
    """Seeds: a non-empty list of ints >= 0 (each picks a real subset and seeds its trainings)."""
    return _ints(values, 'seeds')


def check_arms(arms: Sequence[str], generators: Sequence[str]) -> list[str]:
    """Known arms, with what each needs: a generated-data arm a generator, the compute-matched control a
    generated-data arm to match."""
    bad = [a for a in arms if a not in ARMS]
    if bad or not arms:
        raise ExperimentConfigError(f'unknown arms {bad}; allowed: {list(ARMS)}')
    synthetic = [a for a in arms if a in SYNTHETIC_ARMS]
    if synthetic and not generators:
        raise ExperimentConfigError(f'arms {synthetic} need at least one entry in `generators`')
    if 'compute-matched' in arms and not synthetic:
        raise ExperimentConfigError('the compute-matched arm is matched to a generated-data arm '
                                    f'({list(SYNTHETIC_ARMS)}); add one to `arms`')
    return list(arms)


def _optional_count(value: Any, what: str) -> int | None:
    if value is None:
        return None
    return _ints([value], what, minimum=1)[0]


def _choice(value: Any, allowed: Sequence, what: str) -> Any:
    if value not in allowed:
        raise ExperimentConfigError(f'{what} must be one of {list(allowed)}, got {value!r}')
    return value


def _optional_fraction(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ExperimentConfigError(f'{what} must be None or a number in (0, 1), got {value!r}')
    return float(value)


def _classes(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not all(isinstance(v, str) and v for v in value) or not value:
        raise ExperimentConfigError(f"data.classes must be None or a list of class names, got {value!r}")
    return list(value)


def _split(raw: Mapping | None) -> dict[str, Any]:
    split = {**DEFAULT_SPLIT, **dict(raw or {})}
    _check_keys(split, list(DEFAULT_SPLIT), 'data.split')
    if not all(0 < float(split[k]) < 1 for k in ('val', 'test')) or split['val'] + split['test'] >= 0.9:
        raise ExperimentConfigError(f'data.split val and test are fractions in (0, 1) leaving training images, '
                                    f'got {split}')
    return dict(val=float(split['val']), test=float(split['test']), seed=_ints([split['seed']], 'data.split.seed')[0])


def _scale(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ExperimentConfigError(f'schedule_scale must be a number > 0 (2: every schedule twice as long), '
                                    f'got {value!r}')
    return float(value)


def check_compute_matched(arms: Sequence[str], schedules: Mapping[str, Schedule]) -> None:
    """Refuse fixed-length schedules under which the generated-data arms train different totals: the one
    compute-matched control trains as long as the longest of them, so a shorter arm would meet it with
    less training, and the difference would be read as the generated data's.

    With early stopping each total is known only once it ran, and the control then matches the longest
    run; ``synthetic-only`` beside ``synthetic-pretrain`` is that arm's pretraining, tested on its own.
    """
    pretrain_half = 'synthetic-pretrain' in arms  # synthetic-only is then its pretraining
    matched = [a for a in arms if a in ARM_STAGES and not (a == 'synthetic-only' and pretrain_half)]
    stage_schedules = {s: schedules.get(s, schedules['default']) for a in matched for s in ARM_STAGES[a]}
    if 'compute-matched' not in arms or any(s.patience is not None for s in stage_schedules.values()):
        return
    totals = {a: sum(stage_schedules[s].max_iters for s in ARM_STAGES[a]) for a in matched}
    if len(set(totals.values())) < 2:
        return
    parts = {a: ' + '.join(f'{s} {stage_schedules[s].max_iters}' for s in ARM_STAGES[a]) for a in matched}
    listed = ', '.join(f'{a} {totals[a]}' + (f' ({parts[a]})' if len(ARM_STAGES[a]) > 1 else '')
                       for a in matched)
    raise ExperimentConfigError(
        f'schedules: the compute-matched control trains as long as the longest generated-data arm, '
        f'{max(totals.values())} iterations, but the arms train {listed}: a shorter arm would be compared '
        'with more training than its own. Fix: give them one total (schedules.pretrain.max_iters + '
        'schedules.finetune.max_iters = schedules.mixed.max_iters), or to train longer, scale every schedule '
        'together with schedule_scale (e.g. --cfg-options schedule_scale=2) instead of one max_iters')


def validate(cfg: Mapping[str, Any], name: str = 'experiment', filename: str = '') -> Experiment:
    """Check every key once; the rest of the package then trusts the :class:`Experiment`."""
    _check_keys([k for k in cfg if not str(k).startswith('_')], EXPERIMENT_KEYS, 'experiment config')
    data = _need(cfg, 'data')
    _check_keys(data, DATA_KEYS, 'data')
    _check_keys(data.get('num_images') or {}, SPLIT_NAMES, 'data.num_images')
    _check_keys(cfg.get('estimate') or {}, ESTIMATE_KEYS, 'estimate')
    fmt = _need(data, 'format', 'data')
    if fmt not in FORMAT_CHOICES:
        raise ExperimentConfigError(f'data.format must be one of {FORMAT_CHOICES}, got {fmt!r}')
    arms = check_arms(list(_need(cfg, 'arms')), list(cfg.get('generators') or {}))
    generators = _generators(cfg.get('generators') or {})
    filters = _filters(cfg.get('filters') or {'none': None})
    raw_schedules = dict(_need(cfg, 'schedules'))
    default = _schedule(_need(raw_schedules, 'default', 'schedules'), 'schedules.default')
    schedules = {'default': default}
    for stage, raw in raw_schedules.items():
        if stage == 'default':
            continue
        if stage not in TRAINING_STAGES:
            raise ExperimentConfigError(f'schedules.{stage}: not a training stage; allowed: {list(TRAINING_STAGES)}')
        schedules[stage] = _schedule({**raw_schedules['default'], **raw}, f'schedules.{stage}')
    scale = _scale(cfg.get('schedule_scale', 1))
    schedules = {stage: schedule.scaled(scale) for stage, schedule in schedules.items()}
    check_compute_matched(arms, schedules)

    filter_detector = None
    if cfg.get('filter_detector'):
        _check_keys(cfg['filter_detector'], [f.name for f in fields(FilterDetector)], 'filter_detector')
    if any(f.kind == 'pr' for f in filters.values()):
        raw = cfg.get('filter_detector')
        if not raw:
            raise ExperimentConfigError('PR filters need `filter_detector = dict(config=..., score_thr=..., '
                                        'iou_thr=..., schedule=dict(...))`: the detector that scores the '
                                        'generated images, trained on the same N real images')
        filter_detector = FilterDetector(
            _existing_file(_need(raw, 'config', 'filter_detector'), 'filter_detector.config'),
            _schedule({**raw_schedules['default'], **raw.get('schedule', {})},
                      'filter_detector.schedule').scaled(scale),
            _threshold(raw.get('score_thr', DEFAULT_SCORE_THR), 'filter_detector.score_thr'),
            _threshold(raw.get('iou_thr', DEFAULT_IOU_THR), 'filter_detector.iou_thr'),
            bool(raw.get('class_aware', False)))

    return Experiment(
        name=cfg.get('name', name),
        source=str(_need(data, 'source', 'data')),
        format=fmt,
        detector=_detector(_need(cfg, 'detector')),
        num_real=check_num_real(_need(cfg, 'num_real')),
        seeds=check_seeds(_need(cfg, 'seeds')),
        arms=arms,
        generators=generators,
        filters=filters,
        schedules=schedules,
        val_images=_optional_count(data.get('val_images'), 'data.val_images'),
        test_images=_optional_count(data.get('test_images'), 'data.test_images'),
        classes=_classes(data.get('classes')),
        split=_split(data.get('split')),
        image_mode=_choice(data.get('image_mode', 'copy'), IMAGE_MODES, 'data.image_mode'),
        on_bad_image=_choice(data.get('on_bad_image', 'fail'), ON_BAD_IMAGE, 'data.on_bad_image'),
        allow_outside_root=_choice(data.get('allow_outside_root', False), (False, True), 'data.allow_outside_root'),
        derived=dict(cfg.get('derived') or {}),
        declared_images=dict(data.get('num_images') or {}),
        filter_detector=filter_detector,
        pretrain_val=_choice(cfg.get('pretrain_val', 'real'), PRETRAIN_VAL, 'pretrain_val'),
        mixed_real_fraction=_optional_fraction(cfg.get('mixed_real_fraction'), 'mixed_real_fraction'),
        cfg_options=dict(cfg.get('cfg_options') or {}),
        estimate=dict(cfg.get('estimate') or {}),
        filename=filename)


def load_experiment(path: str | Path, options: Mapping[str, Any] | None = None) -> Experiment:
    """Read an experiment config file (mmengine ``Config``), apply ``options``, validate."""
    from mmengine.config import Config
    if not Path(path).is_file():
        raise ExperimentConfigError(f'experiment config {path} does not exist')
    cfg = Config.fromfile(str(path))
    if options:
        cfg.merge_from_dict(dict(options))
    return validate(cfg.to_dict(), name=Path(path).stem, filename=str(path))
