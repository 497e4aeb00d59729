"""Walk the sweep stage by stage, cached, and collect one result row per run.

In: a validated :class:`~mmgen_det.experiments.config.Experiment` and a work dir. Out: the rows
(``run``), the stage results (``results``) and, in the work dir, ``stages/`` (every stage's files and
record) and ``stage_log.jsonl``; ``write_outputs`` then writes the report files (``results.py``).

Stages, per N x seed (generator x filter where they apply)::

    data (once) -> subset -> real ----------------------------------------------> test  real-only
                          -> generate -> [filter-detector -> score] -> pretrain -> test  synthetic-only
                                                                       -> finetune -> test  synthetic-pretrain
                                                                    -> mixed ----> test  mixed
                          -> compute-matched (iterations of the longest run above) -> test

A dry run walks the same stages without running any: it reports what is cached, what would run,
image counts and an upper bound of the compute (``plan.py``).
Under torchrun/slurm every rank walks the same stages: training, testing and generation run on all
ranks; file-only stages run on rank 0 while the others wait. One run writes a work dir at a time: the
launching process (rank 0) holds :func:`work_dir_lock` for the whole run, and a second run refuses.
"""
from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..generation.set_format import ANNOTATIONS
from ..generation.settings import GenerationSettings
from ..utils.hashing import files_digest, tree_digest
from ..utils.locks import FolderBusyError, FolderLock
from . import plan, report, results, stages
from .cache import DIGEST_CACHE, StageCache, stage_key
from .config import SYNTHETIC_VAL_FRACTION, Experiment, Filter, Generator, Schedule
from .plan import resolve_num_real
from .results import StageResult, training_stages_run

if TYPE_CHECKING:
    from ..datasets.formats import ConvertedSplit

# imported from here by tools/run_experiment.py and the tests
__all__ = ['ExperimentRunner', 'StageResult', 'compute_matched_iterations', 'resolve_num_real',
           'training_stages_run']


#: a work dir's lock file (:func:`work_dir_lock`); one left behind refuses nothing (its flock died with it)
WORK_DIR_LOCK = '.run_experiment.lock'


class WorkDirBusyError(FolderBusyError):
    """Another run_experiment is writing the work dir."""


def work_dir_lock(work_dir: str | Path) -> FolderLock:
    """The work dir's lock, held by a run from start to end: two runs would write the same stage folders,
    and one would find the other's files gone from under it."""
    return FolderLock(work_dir, WORK_DIR_LOCK, 'another run_experiment',
                      'wait for it to finish (or stop it), or give another --work-dir', WorkDirBusyError)


def compute_matched_iterations(run_iterations: list[int]) -> int:
    """The control trains as long as the longest generated-data run of its N and seed: the most
    conservative match when several generators/filters share one control."""
    if not run_iterations:
        raise ValueError('compute-matched needs at least one generated-data run of the same N and seed')
    return max(run_iterations)


class ExperimentRunner:
    """Runs (or, with ``dry_run``, plans) every stage of an experiment; see the module docstring."""

    def __init__(self, exp: Experiment, work_dir: str | Path, dry_run: bool = False, launcher: str = 'none',
                 verbose: bool = False, total_stages: int | None = None, echo: bool = True,
                 source: list[ConvertedSplit] | None = None) -> None:
        """``source``: the data source already read with the experiment's data options
        (:func:`~.stages.read_source`; run_experiment reads it once for its dry-run plan and its run, or
        takes the read ``--data`` derived the experiment from), so that no image is decoded twice."""
        from mmengine.dist import is_main_process
        self.exp = exp
        self.source = source
        self.work_dir = Path(work_dir).resolve()
        self.dry_run = dry_run
        self.launcher = launcher
        self.verbose = verbose
        self.main = is_main_process()
        self.cache = StageCache(self.work_dir, write=self.main and not dry_run)
        self.results: list[StageResult] = []
        self.total_stages = total_stages
        self.echo = echo and self.main
        self.estimate = plan.ComputeEstimate(exp.estimate)
        self._configs: dict[str, Any] = {}
        self._digests: dict[str, str] = {}
        self._generation: dict[str, GenerationSettings] = {}

    # -- the stage primitive ----------------------------------------------------------------------
    def stage(self, stage: str, label: str, inputs: dict[str, Any], work: Callable[[Path], dict[str, Any]],
              estimate_s: float = 0.0, planned: dict[str, Any] | None = None, main_only: bool = False,
              complete: Callable[[dict[str, Any]], bool] | None = None) -> StageResult:
        """Look the stage up by its inputs; run ``work(stage_dir)`` only when it has no record, or one
        that ``complete`` finds lacking (a stage cached before it kept more files is redone)."""
        from mmengine.dist import barrier, broadcast_object_list, is_distributed
        key = stage_key(stage, inputs)
        stage_dir = self.cache.stage_dir(stage, key, label)
        record = self.cache.load(stage_dir)
        if record is not None and complete is not None and not complete(record):
            record = None
        if main_only and is_distributed():
            # rank 0 decides whether the stage runs: another rank looking later could find the record
            # rank 0 has just written, skip the barrier below, and leave rank 0 waiting there forever
            cached = [record is not None]
            broadcast_object_list(cached, src=0)
            record = self.cache.load(stage_dir) if cached[0] else None
        n = len(self.results) + 1
        progress = f'[{n}/{self.total_stages}]' if self.total_stages else f'[{n}]'
        if record is not None:
            status = 'cached'
        elif self.dry_run:
            status, record = 'to run', dict(planned or {}, seconds=estimate_s, planned=True)
        else:
            status = 'ran'
            if self.echo:
                print(f'{progress} {stage} {label}: running ...', flush=True)
            if main_only and not self.main:
                barrier()
                record = self.cache.load(stage_dir)
            else:
                with stages.console_to(stage_dir / 'console.log', self.verbose):
                    record = dict(stages.timed(work, stage_dir), stage=stage, key=key, label=label, inputs=inputs)
                self.cache.save(stage_dir, record)
                if main_only:
                    barrier()
        self.cache.log(stage, key, label, status, record)
        result = StageResult(stage, key, stage_dir, status, record)
        self.results.append(result)
        if self.echo:
            iters = f', {result.iterations} iters' if result.iterations else ''
            print(f'{progress} {stage} {label}: {status} ({result.seconds:.0f} s{iters})', flush=True)
        return result

    # -- detector configs -------------------------------------------------------------------------
    def mmdet_cfg(self, path: str):
        """An mmdet config with the experiment's ``cfg_options`` applied, loaded once."""
        if path not in self._configs:
            self._configs[path] = stages.load_detector_cfg(path, self.exp.cfg_options)
        return self._configs[path]

    @staticmethod
    def cfg_digest(cfg) -> str:
        return hashlib.sha256(json.dumps(cfg.to_dict(), sort_keys=True, default=str).encode()).hexdigest()

    def detector_digest(self, stage: str) -> str:
        """The stage's detector config as loaded, before any path of this work dir is put in it, without
        the schedule every training stage replaces with the experiment's (``stages.runnable_config``)."""
        path = self.exp.detector_config(stage)
        if path not in self._digests:
            cfg = copy.deepcopy(self.mmdet_cfg(path))
            for key in ('train_cfg', 'param_scheduler'):
                cfg.pop(key, None)
            cfg.default_hooks.pop('checkpoint', None)
            self._digests[path] = self.cfg_digest(cfg)
        return self._digests[path]

    def stage_config(self, cfg, schedule: Schedule | None, seed: int, stage_dir: Path, load_from: str | None = None):
        name = f'{stage_dir.parent.name}_{stage_dir.name}'
        label = stage_dir.name.rsplit('-', 1)[0]  # without the cache key
        progress = None if self.verbose or schedule is None else f'{stage_dir.parent.name} {label}'
        return stages.runnable_config(cfg, schedule, seed, stage_dir, name, self.launcher, load_from, progress)

    # -- stages -----------------------------------------------------------------------------------
    def data(self) -> tuple[StageResult, stages.RealData | None]:
        exp = self.exp
        source = Path(exp.source)
        # a yaml or json file stands for its dataset folder (the files it names live beside it)
        root = source.parent if source.is_file() else source
        cache_file = self.work_dir / DIGEST_CACHE if self.cache.write else None
        splits = self.source if self.source is not None else stages.read_source(exp)
        digest = tree_digest(root, cache_file) if source.exists() else 'missing'
        inputs = dict(format=exp.format, source_digest=digest, val_images=exp.val_images, test_images=exp.test_images,
                      split=exp.split, classes=exp.classes)
        # only when not the default: the key of data converted before these options existed stays
        inputs.update({k: v for k, v in (('on_bad_image', exp.on_bad_image),
                                         ('allow_outside_root', exp.allow_outside_root)) if v not in ('fail', False)})
        if splits is not None:
            inputs.update(self.read_inputs(splits, root, cache_file))

        def work(d: Path) -> dict:
            if digest == 'missing':
                raise FileNotFoundError(f'data.source {exp.source} does not exist; see the experiment config')
            return stages.convert(exp.source, exp.format, d / 'coco', exp.val_images, exp.test_images, exp.split,
                                  exp.image_mode, **exp.read_options(), read=splits)
        planned = plan.planned_counts(exp, source, splits)
        result = self.stage('data', source.name, inputs, work, planned=planned, main_only=True)
        if result.status == 'to run':
            return result, None
        self.check_detectors(result.record['classes'])
        anns = result.record['ann_files']
        return result, stages.RealData(f"{result.dir / 'coco'}/", anns['val'], anns['test'])

    def read_inputs(self, splits: list[ConvertedSplit], root: Path,
                    cache_file: Path | None) -> dict[str, Any]:
        """The data stage's inputs beyond ``root``'s digest: the files the read used outside ``root``, and
        how many training images repeat another's bytes where held-out splits are carved (kept on one
        side). Data with neither keeps the key it had before they were looked at."""
        from ..datasets.formats import resolve_format
        inputs: dict[str, Any] = {}
        outside = stages.files_read_outside(splits, root, resolve_format(self.exp.source, self.exp.format))
        if outside:
            inputs['outside_digest'] = files_digest(outside, root, cache_file)
        train = stages.training_split(splits)
        same = stages.identical_images(train) if train is not None and stages.missing_held_out(splits) else {}
        if same:
            inputs['identical_images'] = len(same)
        return inputs

    def check_detectors(self, classes: list[str]) -> None:
        """Every detector config of the experiment must name the data's classes, in the data's order,
        with that many outputs in every head: mmdet would otherwise drop the other classes silently.
        Its backbone checkpoint must be there unless scratch training is allowed: fail now, not hours
        into the sweep."""
        from ..engine.pretrained_init import check_backbone_init
        from ..recipes import check_classes
        paths = dict.fromkeys(self.exp.detector.values())
        if self.exp.filter_detector:
            paths[self.exp.filter_detector.config] = None
        for path in paths:
            check_classes(self.mmdet_cfg(path), classes, where=path)
            check_backbone_init(self.mmdet_cfg(path).model, where=path)

    def subset(self, data: StageResult, n: int, seed: int) -> StageResult:
        train_json = data.dir / 'coco' / 'annotations' / 'train.json'
        return self.stage('subset', f'N{n}_s{seed}', dict(data=data.key, num_real=n, seed=seed),
                          lambda d: stages.subset(train_json, n, seed, d / 'train.json'), main_only=True)

    def real_cfg(self, stage: str, real: stages.RealData | None, subset: StageResult):
        """The stage's detector config reading the run's real subset and the real val/test splits."""
        cfg = self.mmdet_cfg(self.exp.detector_config(stage))
        if real is None:  # dry run before the data exist: the config is loaded (checked) only
            return cfg
        return stages.with_real_data(cfg, real, str(subset.dir / 'train.json'))

    def train_stage(self, stage: str, label: str, inputs: dict[str, Any], build: Callable[[Path], Any],
                    schedule: Schedule, val_images: int, extra: Callable[[Path], dict] | None = None) -> StageResult:
        """A training stage: ``build(stage_dir)`` gives the runnable mmdet config, ``extra(stage_dir)``
        more fields for its record."""
        def work(d: Path) -> dict:
            record = stages.train(build(d), d)
            return dict(record, **(extra(d) if extra else {}))
        return self.stage(stage, label, dict(inputs, schedule=asdict(schedule)), work,
                          self.estimate.training(schedule, val_images), planned=dict(iterations=schedule.max_iters))

    def test_stage(self, trained: StageResult, label: str, data: StageResult, test_images: int) -> StageResult:
        def work(d: Path) -> dict:
            from mmengine.config import Config
            cfg = Config.fromfile(str(trained.dir / 'config.py'))
            return stages.test(self.stage_config(cfg, None, cfg.randomness.seed, d), trained.checkpoint, d)
        # tests cached before detections were kept are run again (the model is not retrained)
        return self.stage('test', label, dict(trained=trained.key, data=data.key), work,
                          self.estimate.testing(test_images), complete=lambda record: 'detections' in record)

    # -- the sweep --------------------------------------------------------------------------------
    def run(self) -> list[dict[str, Any]]:
        """Every stage of the sweep; returns one row per run (planned, metric-less rows in a dry run)."""
        exp = self.exp
        data, real = self.data()
        counts = data.record['num_images']
        rows = []
        for value in exp.num_real:
            n = resolve_num_real(value, counts['train'])
            for seed in exp.seeds:
                rows += self.runs(data, real, n, seed, counts)
        return rows

    def runs(self, data: StageResult, real: stages.RealData | None, n: int, seed: int,
             counts: dict[str, int]) -> list[dict[str, Any]]:
        exp, val_n, test_n = self.exp, counts['val'], counts['test']
        subset = self.subset(data, n, seed)
        real_cfg = self.real_cfg('real', real, subset)
        base = dict(subset=subset.key, seed=seed)
        label = f'N{n}_s{seed}'
        rows = []

        tests: dict[str, StageResult] = {}  # by trained stage: a training reported twice is tested once

        def row(arm: str, trained: StageResult, chain: list[StageResult], gen: str = report.NONE,
                filt: str = report.NONE, kept: int = 0) -> None:
            if trained.key not in tests:
                tests[trained.key] = self.test_stage(trained, f'{label}_{arm}_{gen}_{filt}', data, test_n)
            tested = tests[trained.key]
            rows.append(results.result_row(n, arm, gen, filt, seed, tested, chain + [tested], kept))

        real_only = None
        if 'real-only' in exp.arms:
            sched = exp.schedule('real')
            real_only = self.train_stage('real', label, dict(base, detector=self.detector_digest('real')),
                                         lambda d: self.stage_config(real_cfg, sched, seed, d), sched, val_n)
            row('real-only', real_only, [real_only])

        synthetic_iterations = []
        filter_detector = None
        for gen in exp.generators.values() if exp.synthetic_arms else ():
            generated = self.generate(gen, subset, real, n, seed)
            for filt in exp.filters.values():
                scored = None
                if filt.kind == 'pr':
                    filter_detector = filter_detector or self.filter_detector(subset, real, seed, label, val_n)
                    scored = self.score(generated, filter_detector, f'{label}_{gen.name}')
                chain = [generated] + ([filter_detector, scored] if scored else [])
                synthetic_iterations += self.synthetic_runs(base, real, subset, generated, scored, gen, filt,
                                                            f'{label}_{gen.name}_{filt.name}', val_n, chain, row)

        if 'compute-matched' in exp.arms:
            iters = compute_matched_iterations(synthetic_iterations)
            sched = exp.schedule('compute-matched').fixed(iters)
            if real_only is not None and self.is_compute_matched(real_only, sched):
                row('compute-matched', real_only, [real_only])
            else:
                matched_cfg = self.real_cfg('compute-matched', real, subset)
                inputs = dict(base, detector=self.detector_digest('compute-matched'))
                trained = self.train_stage('compute-matched', label, inputs,
                                           lambda d: self.stage_config(matched_cfg, sched, seed, d), sched, val_n)
                row('compute-matched', trained, [trained])
        return rows

    def is_compute_matched(self, real_only: StageResult, matched: Schedule) -> bool:
        """Whether the real-only run already is the control: same detector config, and a fixed
        schedule (no early stop) as long as the generated-data runs. It is then reported twice and
        trained once."""
        exp = self.exp
        return (exp.schedule('real') == matched and real_only.iterations in (0, matched.max_iters)
                and exp.detector_config('real') == exp.detector_config('compute-matched'))

    def synthetic_runs(self, base: dict, real: stages.RealData | None, subset: StageResult, generated: StageResult,
                       scored: StageResult | None, gen: Generator, filt: Filter, label: str, val_n: int,
                       chain: list[StageResult], row: Callable) -> list[int]:
        """pretrain (-> synthetic-only test) -> finetune, and mixed; returns their training iterations."""
        exp, seed = self.exp, base['seed']
        set_dir = generated.dir / 'set'
        pr_key = scored.record.get('pr_key') if scored else None
        inputs = dict(base, generated=generated.key, scored=scored.key if scored else None, filter=asdict(filt))

        whole_set = set_dir / ANNOTATIONS
        filter_cfg = stages.train_filter_cfg(filt, pr_key)  # what stages.synthetic_dataset filters with

        def kept_in(ann_file: Path) -> dict:
            """The synthetic images a stage trains on: the keep rule over the file its dataset reads."""
            return dict(num_synthetic=stages.kept_images(ann_file, filter_cfg))

        def pretrain_kept(d: Path) -> dict:  # pretrain_val='synthetic' trains on a part of the set
            return kept_in(stages.synthetic_split_file(d, 'train') if exp.pretrain_val == 'synthetic' else whole_set)

        def synthetic(cfg):
            return stages.synthetic_dataset(cfg, set_dir, filt, pr_key)
        planned_kept = generated.record.get('num_images', 0)
        iterations = []
        if {'synthetic-pretrain', 'synthetic-only'} & set(exp.arms):
            sched, pre_cfg = exp.schedule('pretrain'), self.real_cfg('pretrain', real, subset)

            def pretrain(d: Path):
                if exp.pretrain_val == 'real':
                    return self.stage_config(stages.with_train_dataset(pre_cfg, synthetic(pre_cfg)), sched, seed, d)
                split = stages.split_synthetic(set_dir, filter_cfg, SYNTHETIC_VAL_FRACTION, seed, d)
                train = dict(synthetic(pre_cfg), ann_file=str(split['train']))
                cfg = stages.with_synthetic_val(stages.with_train_dataset(pre_cfg, train), set_dir, split['val'])
                return self.stage_config(cfg, sched, seed, d)
            pre = self.train_stage('pretrain', label, dict(inputs, detector=self.detector_digest('pretrain'),
                                                           pretrain_val=exp.pretrain_val),
                                   pretrain, sched, val_n, pretrain_kept)
            num = pre.record.get('num_synthetic', planned_kept)
            if 'synthetic-only' in exp.arms:
                row('synthetic-only', pre, chain + [pre], gen.name, filt.name, num)
                iterations.append(pre.iterations)
            if 'synthetic-pretrain' in exp.arms:
                sched_ft, ft_cfg = exp.schedule('finetune'), self.real_cfg('finetune', real, subset)
                fine = self.train_stage(
                    'finetune', label, dict(base, pretrain=pre.key, detector=self.detector_digest('finetune')),
                    lambda d: self.stage_config(ft_cfg, sched_ft, seed, d, load_from=pre.checkpoint),
                    sched_ft, val_n)
                row('synthetic-pretrain', fine, chain + [pre, fine], gen.name, filt.name, num)
                iterations.append(pre.iterations + fine.iterations)
        if 'mixed' in exp.arms:
            sched, mix_cfg = exp.schedule('mixed'), self.real_cfg('mixed', real, subset)

            def mixed_config(d: Path):
                repeats = stages.real_repeats(exp.mixed_real_fraction, subset.record['num_images'],
                                              stages.kept_images(whole_set, filter_cfg))
                return self.stage_config(stages.with_train_dataset(
                    mix_cfg, stages.mixed_dataset(mix_cfg, synthetic(mix_cfg), repeats)), sched, seed, d)
            mix_inputs = dict(inputs, detector=self.detector_digest('mixed'))
            if exp.mixed_real_fraction is not None:  # keeps the keys of concatenated runs already cached
                mix_inputs['mixed_real_fraction'] = exp.mixed_real_fraction
            mixed = self.train_stage('mixed', label, mix_inputs, mixed_config, sched, val_n,
                                     lambda d: kept_in(whole_set))
            row('mixed', mixed, chain + [mixed], gen.name, filt.name, mixed.record.get('num_synthetic', planned_kept))
            iterations.append(mixed.iterations)
        return iterations

    def generate(self, gen: Generator, subset: StageResult, real: stages.RealData | None, n: int,
                 seed: int) -> StageResult:
        """Keyed by what determines the pixels (not the batch size or device index: they change none)."""
        from ..generation.synthetic_set import pixel_settings
        if gen.name not in self._generation:
            self._generation[gen.name] = stages.load_generation(gen.config)
        settings = self._generation[gen.name]
        num = gen.num_images(n)

        def work(d: Path) -> dict:
            bound = settings.with_real_data(str(subset.dir / 'train.json'), real.root)
            return dict(stages.generate(bound, d / 'set', num, seed), generator=gen.name)
        return self.stage('generate', f'N{n}_s{seed}_{gen.name}',
                          dict(generation=pixel_settings(settings.to_dict()), subset=subset.key, num_images=num,
                               seed=seed),
                          work,
                          self.estimate.generation(gen.name, num), planned=dict(num_images=num))

    def filter_detector(self, subset: StageResult, real: stages.RealData | None, seed: int, label: str,
                        val_n: int) -> StageResult:
        fd = self.exp.filter_detector
        cfg = self.mmdet_cfg(fd.config)

        def build(d: Path):
            return self.stage_config(stages.with_real_data(cfg, real, str(subset.dir / 'train.json')), fd.schedule,
                                     seed, d)
        return self.train_stage('filter-detector', label, dict(detector=self.cfg_digest(cfg), subset=subset.key,
                                                                seed=seed), build, fd.schedule, val_n)

    def score(self, generated: StageResult, detector: StageResult, label: str) -> StageResult:
        fd = self.exp.filter_detector
        num = int(generated.record.get('num_images', 0))

        def work(d: Path) -> dict:
            return stages.score(generated.dir / 'set', str(detector.dir / 'config.py'), detector.checkpoint,
                                fd.score_thr, fd.iou_thr, fd.class_aware)
        return self.stage('score', label, dict(generated=generated.key, detector=detector.key,
                                                thresholds=[fd.score_thr, fd.iou_thr, fd.class_aware]),
                          work, self.estimate.scoring(num), main_only=True)

    # -- outputs ----------------------------------------------------------------------------------
    def write_outputs(self, rows: list[dict[str, Any]]) -> dict[str, Path]:
        """The report files of ``results.write_outputs`` (rank 0 only; nothing without rows)."""
        if not self.main or not rows:
            return {}
        return results.write_outputs(self.exp, self.work_dir, self.results, rows)

    def plan_summary(self) -> str:
        """The dry-run table of ``plan.plan_summary``."""
        return plan.plan_summary(self.exp, self.results)
