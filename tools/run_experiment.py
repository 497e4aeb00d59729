"""Run an experiment: N real images x arms x seeds, every stage cached by its inputs.

    python tools/run_experiment.py EXP_CONFIG [--work-dir DIR] [--dry-run] [--cfg-options K=V ...]
    torchrun --nproc_per_node 8 tools/run_experiment.py EXP_CONFIG --launcher pytorch

Stages: data -> subset -> [filter detector] -> generate -> [score] -> pretrain -> finetune / mixed /
real-only / compute-matched -> test (see mmgen_det/experiments/runner.py). A rerun, or a sweep
extended with new N, seeds, arms, generators or filters, runs only the stages it has not run yet.
Writes DIR/results.csv, DIR/report.md, DIR/map_vs_n.png, DIR/samples_<generator>.png and
DIR/stage_log.jsonl. ``--dry-run`` runs nothing: it resolves every stage, prints what is cached, the
image counts and an estimate of the compute still to run.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def parse_args(argv=None) -> argparse.Namespace:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='Run an experiment sweep (cached, stage by stage)')
    parser.add_argument('config', help='experiment config (configs/experiments/*.py)')
    parser.add_argument('--work-dir', help='default: work_dirs/experiments/<config name>')
    parser.add_argument('--dry-run', action='store_true', help='resolve every stage, run none; print counts and '
                        'a compute estimate')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help="override experiment config keys, e.g. num_real=[10,50] seeds=[0] "
                             "(mmdet config keys go under cfg_options)")
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--verbose', action='store_true', help="show mmengine's log lines instead of only "
                        "writing them to each stage's console.log; with --dry-run, list every stage")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    from mmgen_det.experiments import ExperimentConfigError, load_experiment
    from mmgen_det.experiments.report import aggregate, summary_table
    from mmgen_det.experiments.runner import ExperimentRunner, training_stages_run
    from mmgen_det.experiments.cache import read_stage_log

    try:
        exp = load_experiment(args.config, args.cfg_options)
    except (ExperimentConfigError, FileNotFoundError) as e:
        sys.exit(f'run_experiment: {e}')
    work_dir = Path(args.work_dir or Path('work_dirs', 'experiments', Path(args.config).stem))
    if args.launcher != 'none':
        from mmengine.dist import init_dist
        init_dist(args.launcher)

    start = time.monotonic()
    plan = ExperimentRunner(exp, work_dir, dry_run=True, echo=args.dry_run and args.verbose)
    plan.run()
    if args.dry_run:
        print(plan.plan_summary())
        todo = sum(r.status == 'to run' for r in plan.results)
        print(f'run_experiment --dry-run: {len(plan.results)} stages resolved, {todo} to run, '
              f'{len(plan.results) - todo} cached ({work_dir})')
        return

    log_start = len(read_stage_log(work_dir))
    runner = ExperimentRunner(exp, work_dir, launcher=args.launcher, verbose=args.verbose,
                              total_stages=len(plan.results))
    rows = runner.run()
    outputs = runner.write_outputs(rows)
    if not runner.main:
        return
    ran = [r for r in runner.results if r.status == 'ran']
    print(f'\n{exp.name}: COCO mAP on the real test split, checkpoint chosen on real val\n')
    print(summary_table(aggregate(rows)))
    print(f"\nrun_experiment: {len(rows)} runs, {len(ran)} stages run "
          f"({len(training_stages_run(work_dir, log_start))} trainings), {len(runner.results) - len(ran)} cached, "
          f"{time.monotonic() - start:.0f} s; {outputs['csv']}, {outputs['report']}")


if __name__ == '__main__':
    main()
