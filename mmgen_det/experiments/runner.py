"""Walk the sweep stage by stage, cached; collect one result row per run; write the report.

In: a validated :class:`~mmgen_det.experiments.config.Experiment` and a work dir. Out, in the work dir:
``stages/`` (every stage's files and record), ``stage_log.jsonl``, ``results.csv``, ``report.md``,
``map_vs_n.png`` and ``samples_<generator>.png``.

Stages, per N x seed (generator x filter where they apply)::

    data (once) -> subset -> real ----------------------------------------------> test  real-only
                          -> generate -> [filter-detector -> score] -> pretrain -> test  synthetic-only
                                                                       -> finetune -> test  synthetic-pretrain
                                                                    -> mixed ----> test  mixed
                          -> compute-matched (iterations of the longest run above) -> test

A dry run walks the same stages without running any: it reports what is cached, what would run,
image counts and an upper bound of the compute (every training running ``max_iters``).
Under torchrun/slurm every rank walks the same stages: training, testing and generation run on all
ranks; file-only stages run on rank 0 while the others wait.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from ..generation.writer import ANNOTATIONS
from ..utils.io import read_json
from ..utils.hashing import tree_digest
from .cache import DIGEST_CACHE, StageCache, read_stage_log, stage_key
from .config import SYNTHETIC_VAL_FRACTION, Experiment, Filter, Generator, Schedule
from . import report, report_html, stages

TRAINING = ('real', 'pretrain', 'finetune', 'mixed', 'compute-matched', 'filter-detector')


def compute_matched_iterations(run_iterations: list[int]) -> int:
    """The control trains as long as the longest generated-data run of its N and seed: the most
    conservative match when several generators/filters share one control."""
    if not run_iterations:
        raise ValueError('compute-matched needs at least one generated-data run of the same N and seed')
    return max(run_iterations)


def resolve_num_real(value: int | str, train_images: int) -> int:
    if value == 'all':
        return train_images
    if value > train_images:
        raise ValueError(f'num_real={value} but the real training split has only {train_images} images')
    return int(value)


@dataclass
class StageResult:
    stage: str
    key: str
    dir: Path
    status: str  # 'ran', 'cached' or 'to run' (dry run)
    record: dict[str, Any]

    @property
    def seconds(self) -> float:
        return float(self.record.get('seconds') or 0.0)

    @property
    def iterations(self) -> int:
        return int(self.record.get('iterations') or 0)

    @property
    def checkpoint(self) -> str:
        """The trained model a training stage chose (best on val); stored relative to its folder."""
        return str(self.dir / self.record['checkpoint'])


class ExperimentRunner:
    """Runs (or, with ``dry_run``, plans) every stage of an experiment; see the module docstring."""

    def __init__(self, exp: Experiment, work_dir: str | Path, dry_run: bool = False, launcher: str = 'none',
                 verbose: bool = False, total_stages: int | None = None, echo: bool = True) -> None:
        from mmengine.dist import is_main_process
        self.exp = exp
        self.work_dir = Path(work_dir).resolve()
        self.dry_run = dry_run
        self.launcher = launcher
        self.verbose = verbose
        self.main = is_main_process()
        self.cache = StageCache(self.work_dir, write=self.main and not dry_run)
        self.results: list[StageResult] = []
        self.total_stages = total_stages
        self.echo = echo and self.main
        self.estimate = exp.estimate
        self._configs: dict[str, Any] = {}
        self._digests: dict[str, str] = {}
        self._generation: dict[str, dict[str, Any]] = {}

    # -- the stage primitive ----------------------------------------------------------------------
    def stage(self, stage: str, label: str, inputs: dict[str, Any], work: Callable[[Path], dict[str, Any]],
              estimate_s: float = 0.0, planned: dict[str, Any] | None = None, main_only: bool = False
              ) -> StageResult:
        """Look the stage up by its inputs; run ``work(stage_dir)`` only when it has no record."""
        from mmengine.dist import barrier, broadcast_object_list, is_distributed
        key = stage_key(stage, inputs)
        stage_dir = self.cache.stage_dir(stage, key, label)
        record = self.cache.load(stage_dir)
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

    # -- estimates (dry run) ----------------------------------------------------------------------
    def _train_estimate(self, schedule: Schedule, val_images: int) -> float:
        per_iter = float(self.estimate.get('seconds_per_iter', 0.0))
        per_eval = float(self.estimate.get('seconds_per_eval_image', 0.0))
        return schedule.max_iters * per_iter + schedule.max_iters // schedule.val_interval * val_images * per_eval

    def _generation_estimate(self, generator: str, num_images: int) -> float:
        per_image = self.estimate.get('seconds_per_generated_image', {})
        per_image = per_image.get(generator, 0.0) if isinstance(per_image, dict) else per_image
        return num_images * float(per_image)

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
        """The stage's detector config as loaded, before any path of this work dir is put in it."""
        path = self.exp.detector_config(stage)
        if path not in self._digests:
            self._digests[path] = self.cfg_digest(self.mmdet_cfg(path))
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
        digest = tree_digest(root, cache_file) if source.exists() else 'missing'
        inputs = dict(format=exp.format, source_digest=digest, val_images=exp.val_images, test_images=exp.test_images,
                      split=exp.split, classes=exp.classes)

        def work(d: Path) -> dict:
            if digest == 'missing':
                raise FileNotFoundError(f'data.source {exp.source} does not exist; see the experiment config')
            return stages.convert(exp.source, exp.format, d / 'coco', exp.val_images, exp.test_images, exp.split,
                                  exp.image_mode, exp.classes)
        result = self.stage('data', source.name, inputs, work, planned=self._planned_counts(source),
                            main_only=True)
        if result.status == 'to run':
            return result, None
        self.check_detectors(result.record['classes'])
        anns = result.record['ann_files']
        return result, stages.RealData(f"{result.dir / 'coco'}/", anns['val'], anns['test'])

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

    def _planned_counts(self, source: Path) -> dict[str, Any]:
        """Image counts for a dry run: read the source when present, else the config's declared ones."""
        exp = self.exp
        if source.exists():
            from ..datasets import read_dataset
            counts = {s.name: len(s.coco['images']) for s in read_dataset(str(source), exp.format,
                                                                           classes=exp.classes)}
            origin = f'read from {source}'
        elif exp.declared_images:
            counts, origin = dict(exp.declared_images), f'declared in the config ({source} not found)'
        else:
            raise FileNotFoundError(f'data.source {source} does not exist and data.num_images is not declared')
        if 'train' not in counts and len(counts) == 1:
            counts = dict(train=counts.popitem()[1])
        for split in ('val', 'test'):
            if split not in counts and 'train' in counts:  # split off train when the data run converts it
                counts[split] = round(exp.split[split] * counts['train'])
                counts['train'] -= counts[split]
                origin += f'; {split} to be split off train'
        for split, n in (('val', exp.val_images), ('test', exp.test_images)):
            if n is not None and split in counts:
                counts[split] = min(n, counts[split])
        return dict(num_images=counts, counts_origin=origin)

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
                          self._train_estimate(schedule, val_images), planned=dict(iterations=schedule.max_iters))

    def test_stage(self, trained: StageResult, label: str, data: StageResult, test_images: int) -> StageResult:
        def work(d: Path) -> dict:
            from mmengine.config import Config
            cfg = Config.fromfile(str(trained.dir / 'config.py'))
            return stages.test(self.stage_config(cfg, None, cfg.randomness.seed, d), trained.checkpoint, d)
        per_eval = float(self.estimate.get('seconds_per_eval_image', 0.0))
        return self.stage('test', label, dict(trained=trained.key, data=data.key), work, test_images * per_eval)

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
            rows.append(self.result_row(n, arm, gen, filt, seed, tested, chain + [tested], kept))

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

        def kept(d: Path) -> dict:
            if (d / 'synthetic_train.json').is_file():  # pretrain_val='synthetic' trains on a part of the set
                return dict(num_synthetic=len(read_json(d / 'synthetic_train.json')['images']))
            return dict(num_synthetic=stages.kept_images(set_dir, filt, pr_key))

        def synthetic(cfg):
            return stages.synthetic_dataset(cfg, set_dir, filt, pr_key)
        planned_kept = generated.record.get('num_images', 0)
        iterations = []
        if {'synthetic-pretrain', 'synthetic-only'} & set(exp.arms):
            sched, pre_cfg = exp.schedule('pretrain'), self.real_cfg('pretrain', real, subset)

            def pretrain(d: Path):
                if exp.pretrain_val == 'real':
                    return self.stage_config(stages.with_train_dataset(pre_cfg, synthetic(pre_cfg)), sched, seed, d)
                split = stages.split_synthetic(set_dir, filt, pr_key, SYNTHETIC_VAL_FRACTION, seed, d)
                train = dict(synthetic(pre_cfg), ann_file=str(split['train']))
                cfg = stages.with_synthetic_val(stages.with_train_dataset(pre_cfg, train), set_dir, split['val'])
                return self.stage_config(cfg, sched, seed, d)
            pre = self.train_stage('pretrain', label, dict(inputs, detector=self.detector_digest('pretrain'),
                                                           pretrain_val=exp.pretrain_val),
                                   pretrain, sched, val_n, kept)
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
            mixed = self.train_stage(
                'mixed', label, dict(inputs, detector=self.detector_digest('mixed')),
                lambda d: self.stage_config(stages.with_train_dataset(
                    mix_cfg, stages.mixed_dataset(mix_cfg, synthetic(mix_cfg))), sched, seed, d), sched, val_n, kept)
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
            bound = stages.bind_real_data(settings, str(subset.dir / 'train.json'), real.root)
            return dict(stages.generate(bound, d / 'set', num, seed), generator=gen.name)
        return self.stage('generate', f'N{n}_s{seed}_{gen.name}',
                          dict(generation=pixel_settings(settings), subset=subset.key, num_images=num, seed=seed),
                          work,
                          self._generation_estimate(gen.name, num), planned=dict(num_images=num))

    def filter_detector(self, subset: StageResult, real: stages.RealData | None, seed: int, label: str,
                        val_n: int) -> StageResult:
        fd = self.exp.filter_detector
        cfg = self.mmdet_cfg(fd.config)

        def build(d: Path):
            return self.stage_config(stages.with_real_data(cfg, real, str(subset.dir / 'train.json')), fd.schedule, seed, d)
        return self.train_stage('filter-detector', label, dict(detector=self.cfg_digest(cfg), subset=subset.key,
                                                                seed=seed), build, fd.schedule, val_n)

    def score(self, generated: StageResult, detector: StageResult, label: str) -> StageResult:
        fd = self.exp.filter_detector
        num = int(generated.record.get('num_images', 0))
        per_image = float(self.estimate.get('seconds_per_scored_image', 0.0))

        def work(d: Path) -> dict:
            return stages.score(generated.dir / 'set', str(detector.dir / 'config.py'), detector.checkpoint,
                                fd.score_thr, fd.iou_thr, fd.class_aware)
        return self.stage('score', label, dict(generated=generated.key, detector=detector.key,
                                                thresholds=[fd.score_thr, fd.iou_thr, fd.class_aware]),
                          work, num * per_image, main_only=True)

    # -- rows -------------------------------------------------------------------------------------
    def result_row(self, n: int, arm: str, gen: str, filt: str, seed: int, tested: StageResult,
                   chain: list[StageResult], kept: int) -> dict[str, Any]:
        """One results.csv row: metrics of the test, iterations and seconds of every stage it needed."""
        trainings = [s for s in chain if s.stage in TRAINING and s.stage != 'filter-detector']
        trained = trainings[-1]
        return dict(
            num_real=n, arm=arm, generator=gen, filter=filt, seed=seed,
            **report.metric_columns(tested.record.get('metrics', {})),
            num_synthetic=kept,
            iterations=sum(s.iterations for s in trainings),
            stage_iterations=' '.join(f'{s.stage}={s.iterations}' for s in chain if s.stage in TRAINING),
            wall_seconds=round(sum(s.seconds for s in chain), 1),
            stage_seconds=' '.join(f'{s.stage}={s.seconds:.0f}' for s in chain),
            val_mAP=trained.record.get('val_mAP'), best_iter=trained.record.get('best_iter'),
            val_metrics_computed=trained.record.get('val_metrics_computed'),
            backbone_init=trained.record.get('backbone_init'),
            checkpoint=trained.checkpoint if 'checkpoint' in trained.record else None,
            test_config=str(tested.dir / 'config.py'))

    # -- outputs ----------------------------------------------------------------------------------
    def write_outputs(self, rows: list[dict[str, Any]]) -> dict[str, Path]:
        """results.csv, map_vs_n.png, samples_<generator>.png, report.md, report.html with a gallery of every
        generated set (rank 0 only)."""
        if not self.main or not rows:
            return {}
        out = dict(csv=self.work_dir / 'results.csv', report=self.work_dir / 'report.md')
        report.write_csv(rows, out['csv'])
        images = {'mAP vs N': report.plot_map_vs_n(rows, self.work_dir / 'map_vs_n.png').name}
        for gen in self.exp.generators if self.exp.synthetic_arms else ():
            grid = self.sample_grid(gen)
            if grid:
                images[f'synthetic samples: {gen}'] = grid.name
        notes = ['Filter-detector training (PR filters) is not counted in `iterations`; its time is in '
                 '`wall_seconds`.'] if self.exp.filter_detector else []
        real_checkpoints = {r['checkpoint'] for r in rows if r['arm'] == 'real-only'}
        if any(r['checkpoint'] in real_checkpoints for r in rows if r['arm'] == 'compute-matched'):
            notes.append('`compute-matched` and `real-only` are one training here: real-only ran a fixed schedule '
                         '(no early stop) exactly as long as the generated-data runs, so it is its own control.')
        data = next(r.record for r in self.results if r.stage == 'data')
        text = report.render_report(self.exp.name, rows, self.exp.settings(), images, notes,
                                    report.data_section(data, self.exp.derived))
        out['report'].write_text(text)
        out['html'] = report_html.write_report_html(self.work_dir, self.exp.name, text, self.results)
        return out

    def sample_grid(self, gen: str, count: int = 8) -> Path | None:
        """A grid of the first images of this generator's first set (with their layout boxes)."""
        from ..visualization import coco_grid
        sets = [r for r in self.results if r.stage == 'generate' and r.record.get('generator') == gen]
        if not sets:
            return None
        set_dir = sets[0].dir / 'set'
        coco = read_json(set_dir / ANNOTATIONS)
        path = self.work_dir / f'samples_{gen}.png'
        coco_grid(coco, set_dir, [im['id'] for im in coco['images'][:count]], cols=4).save(path)
        return path

    def plan_summary(self) -> str:
        """Dry-run summary: image counts, stages by kind (cached / to run), estimated compute."""
        data = self.results[0].record
        counts = data['num_images']
        lines = [f"real images: train {counts['train']}, val {counts['val']}, test {counts['test']} "
                 f"({data.get('counts_origin', 'converted')})"]
        for value in self.exp.num_real:
            n = resolve_num_real(value, counts['train'])
            synthetic = ', '.join(f'{g.name} {g.num_images(n)}' for g in self.exp.generators.values())
            lines.append(f'N={value}: {n} real training images x {len(self.exp.seeds)} seeds'
                         + (f'; generated per run: {synthetic}' if self.exp.synthetic_arms else ''))
        lines.append(f"{'stage':16s} {'cached':>7s} {'to run':>7s} {'images':>9s} {'est. h':>8s}")
        total = 0.0
        for kind in dict.fromkeys(r.stage for r in self.results):
            group = [r for r in self.results if r.stage == kind]
            todo = [r for r in group if r.status == 'to run']
            images = sum(int(r.record.get('num_images', 0) or 0) for r in todo) if kind == 'generate' else 0
            hours = sum(r.seconds for r in todo) / 3600
            total += hours
            lines.append(f'{kind:16s} {len(group) - len(todo):7d} {len(todo):7d} {images or "":>9} {hours:8.2f}')
        device = self.estimate.get('device', 'GPU')
        lines.append(f'estimated compute still to run: {total:.1f} {device} hours (upper bound: every training '
                     'runs its max_iters; early stopping shortens it)')
        return '\n'.join(lines)


def training_stages_run(work_dir: str | Path, since_line: int = 0) -> list[dict[str, Any]]:
    """Training stages the stage log says were RUN (not cached), from line ``since_line`` on."""
    return [e for e in read_stage_log(work_dir)[since_line:] if e['status'] == 'ran' and e['stage'] in TRAINING]
