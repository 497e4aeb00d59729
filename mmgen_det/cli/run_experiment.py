"""Run an experiment: N real images x arms x seeds, every stage cached by its inputs.

    mmgen-det-run --data PATH [--format auto] [--detector NAME] [--generator copy-paste]
        [--num-real 50 ...] [--seeds 0 ...] [--work-dir DIR]       # your dataset, no config to write
    mmgen-det-run EXP_CONFIG [--work-dir DIR] [--dry-run] [--cfg-options K=V ...]
    torchrun --nproc_per_node 8 -m mmgen_det.cli.run_experiment EXP_CONFIG --launcher pytorch

In a checkout, ``python tools/run_experiment.py`` is the same command.

With ``--data``, the experiment folder is first written into the work dir by the same code as
``mmgen-det-init`` (configs derived from the data); a rerun with the same options reuses it,
including your edits to ``DIR/experiment.py``. Every option is checked against the data before
anything is written (the work dir's lock file included), so a refused command leaves nothing behind
and its corrected rerun just works.

Stages: data -> subset -> [filter detector] -> generate -> [score] -> pretrain -> finetune / mixed /
real-only / compute-matched -> test (see mmgen_det/experiments/runner.py). A rerun, or a sweep
extended with new N, seeds, arms, generators or filters, runs only the stages it has not run yet.
Writes DIR/results.csv, DIR/report.md, DIR/report.html, DIR/map_vs_n.png, DIR/samples_<generator>.png and
DIR/stage_log.jsonl. ``--dry-run`` runs nothing: it resolves every stage, prints what is cached, the
image counts, what the test split can tell (per class, and the smallest mAP difference it resolves),
objects under the detector's useful size at the derived scale, and an estimate of the compute still
to run with what it is estimated from.

One run writes a work dir at a time: a second one on the same DIR stops at once, naming the first
(pid, start time, command). With ``--data``, DIR must be empty, new, or made by ``mmgen-det-init`` /
``--data`` (``--reinit`` too rewrites only such a folder).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import mmgen_det  # noqa: F401  (first: silences mmengine's pkg_resources warning)

if TYPE_CHECKING:
    from mmgen_det.experiments.init import Derivation


def parse_args(argv=None) -> argparse.Namespace:
    from mmgen_det.utils.command_line import ArgumentParser, CfgOptions
    from mmgen_det.experiments.init import add_arguments
    parser = ArgumentParser(description='Run an experiment sweep (cached, stage by stage)')
    parser.add_argument('config', nargs='?', help='experiment config (configs/experiments/*.py); or use --data')
    parser.add_argument('--work-dir', help='default: work_dirs/experiments/<config or dataset name>')
    add_arguments(parser.add_argument_group('your dataset, configs derived from it (instead of EXP_CONFIG)'),
                  ['--data'])
    parser.add_argument('--reinit', action='store_true', help='with --data: rewrite the experiment folder even if '
                        'it was made with other options (stage results are kept and reused where unchanged)')
    parser.add_argument('--dry-run', action='store_true', help='resolve every stage, run none; print counts and '
                        'a compute estimate')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptions, default={},
                        help="override experiment config keys, e.g. num_real=[10,50] seeds=[0] "
                             "(mmdet config keys go under cfg_options)")
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--verbose', action='store_true', help="show mmengine's log lines instead of only "
                        "writing them to each stage's console.log; with --dry-run, list every stage")
    args = parser.parse_args(argv)
    if (args.config is None) == (args.data is None):
        parser.error('give an experiment config or --data PATH (one of them)')
    return args


#: the variable each launcher sets to a process's rank before the process group starts (init_dist reads it)
RANK_VARIABLES = {'pytorch': 'RANK', 'slurm': 'SLURM_PROCID', 'mpi': 'OMPI_COMM_WORLD_RANK'}


def work_dir_of(args) -> Path:
    """--work-dir, else work_dirs/experiments/<dataset or experiment config name>."""
    name = Path(args.data).resolve().stem if args.data else Path(args.config).stem
    return Path(args.work_dir or Path('work_dirs', 'experiments', name))


def holds_work_dir(args) -> bool:
    """Whether this process takes the work dir's lock: rank 0 of a launch, whose other ranks must not wait
    on it; not a dry run of an experiment config, which writes nothing (with --data it writes the folder)."""
    rank = int(os.environ.get(RANK_VARIABLES.get(args.launcher, ''), 0))
    return rank == 0 and not (args.dry_run and args.config)


def lock_work_dir(args) -> contextlib.AbstractContextManager:
    """The work dir's lock, taken (:func:`holds_work_dir`), or exit naming the run that holds it."""
    from mmgen_det.experiments.runner import WorkDirBusyError, work_dir_lock
    if not holds_work_dir(args):
        return contextlib.nullcontext()
    try:
        return work_dir_lock(work_dir_of(args)).acquire()
    except WorkDirBusyError as err:
        sys.exit(f'run_experiment: {err}')


def checked_data(args) -> Derivation:
    """``--data`` and its options checked against the data, before the lock file or any other is
    written: a folder init_experiment did not make or made with other options, then every refusal of
    :func:`~mmgen_det.experiments.init.derive` (the data, N, seeds, arms, detector, GLIGEN on a CPU)."""
    from mmgen_det.experiments.init import check_folder, derive, settings_from_args
    settings = settings_from_args(args)
    try:
        check_folder(settings, work_dir_of(args), args.reinit)
        return derive(settings)
    except (ValueError, FileNotFoundError) as err:
        sys.exit(f'run_experiment: {err}')


def experiment_from_data(args, derivation: Derivation) -> str:
    """Write (or reuse) the experiment folder for ``--data`` in the work dir; its experiment.py."""
    from mmgen_det.experiments.init import reuse_or_init
    try:
        path, done = reuse_or_init(derivation.settings, work_dir_of(args), args.reinit, derivation)
    except ValueError as err:
        sys.exit(f'run_experiment: {err}')
    print(f'run_experiment: {done}')
    return str(path)


def main(argv=None) -> None:
    args = parse_args(argv)
    derivation = checked_data(args) if args.data else None
    with lock_work_dir(args):
        run(args, derivation)


def run(args, derivation: Derivation | None = None) -> None:
    """The sweep (or its dry run) of the parsed command line; ``derivation``: :func:`checked_data`'s."""
    from mmgen_det.experiments import ExperimentConfigError, load_experiment
    from mmgen_det.experiments.report import aggregate, summary_table
    from mmgen_det.experiments.runner import ExperimentRunner, training_stages_run
    from mmgen_det.experiments.cache import read_stage_log
    from mmgen_det.experiments.stages import read_source
    from mmgen_det.recipes import ClassMismatchError

    try:
        config = args.config or experiment_from_data(args, derivation)
        exp = load_experiment(config, args.cfg_options)
    except (ExperimentConfigError, FileNotFoundError, ValueError) as e:
        sys.exit(f'run_experiment: {e}')
    work_dir = work_dir_of(args)
    if args.launcher != 'none':
        from mmengine.dist import init_dist
        init_dist(args.launcher)

    start = time.monotonic()
    source = derivation.source_for(exp) if derivation else None
    try:
        if source is None:
            source = read_source(exp)  # read once, for the plan and the run: no image is decoded twice
        plan = ExperimentRunner(exp, work_dir, dry_run=True, echo=args.dry_run and args.verbose, source=source)
        plan.run()
    except (FileNotFoundError, ValueError) as e:  # e.g. num_real above the training split
        sys.exit(f'run_experiment: {e}')
    if args.dry_run:
        print(plan.plan_summary())
        todo = sum(r.status == 'to run' for r in plan.results)
        print(f'run_experiment --dry-run: {len(plan.results)} stages resolved, {todo} to run, '
              f'{len(plan.results) - todo} cached ({work_dir})')
        return

    log_start = len(read_stage_log(work_dir))
    runner = ExperimentRunner(exp, work_dir, launcher=args.launcher, verbose=args.verbose,
                              total_stages=len(plan.results), source=source)
    try:
        rows = runner.run()
    except (ClassMismatchError, FileNotFoundError) as e:  # found before any training: one clear line
        sys.exit(f'run_experiment: {e}')
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
