"""How much does generated data help? The data-efficiency sweep of the product, on real datasets.

    python benchmarks/bench_accuracy.py [--fish ../shared/data/fish4knowledge] [--raccoon ../shared/data/raccoon]
        [--aquarium ../shared/data/aquarium] [--datasets fish4knowledge raccoon aquarium]
        [--num-real 10 50 300 all] [--seeds 0 1]
        [--pretrain-val real synthetic] [--work-dir work_dirs/bench_accuracy] [--out-dir benchmarks/accuracy]

For each dataset the experiment folder is derived from the data (the CPU recipe: detector, input scale,
schedules) exactly as a user's ``run_experiment --data`` derives it, again on every invocation so the
folder follows the installed recipe, then run with ``tools/run_experiment.py`` for each
pretrain-validation choice:

- arms: real-only, synthetic-pretrain (pretrain on generated images, fine-tune on the N real ones),
  mixed, and the compute-matched control (real-only trained as long as the longest generated-data
  run), copy-paste generation (``--generators copy-paste copy-paste-diverse`` adds the generator with
  per-object appearance diversity), without and with the PR filter at the product's default thresholds
  (the best cell of ``benchmarks/filter_auc.py``);
- ``pretrain_val='real'`` (checkpoint chosen on the real val split) and ``'synthetic'`` (on 15% of
  the generated set held out from pretraining, as the reference study does).

Every stage is cached in ``--work-dir``: an interrupted run, rerun with the same arguments, runs only
what it had not finished. Results: ``OUT_DIR/<dataset>_<pretrain_val>.csv`` (every run),
``OUT_DIR/<dataset>_<pretrain_val>.png`` (mAP vs N, seeds' spread) and ``OUT_DIR/README.md`` (the
tables, with the "≈ real images" column: the N at which real-only reaches each arm's mAP).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, machine  # noqa: E402

from mmgen_det.recipes.generation import COPY_PASTE  # noqa: E402

#: dataset -> (its path option, the export it is, as given to the product)
DATASETS = {'fish4knowledge': ('--fish', 'fixed underwater cameras, YOLO export'),
            'raccoon': ('--raccoon', 'one raccoon per photo, Pascal VOC'),
            'aquarium': ('--aquarium', 'crowded aquarium photos, 7 classes, Roboflow YOLO export')}
FILTERS = ('none', 'pr')


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = REPO.parent / 'shared' / 'data'
    for name, (flag, what) in DATASETS.items():
        p.add_argument(flag, type=Path, default=shared / name, dest=name, help=f'{name} ({what})')
    p.add_argument('--datasets', nargs='+', default=list(DATASETS), choices=DATASETS)
    p.add_argument('--num-real', nargs='+', default=['10', '50', '300', 'all'])
    p.add_argument('--seeds', nargs='+', default=['0', '1'])
    p.add_argument('--pretrain-val', nargs='+', default=['real', 'synthetic'], choices=('real', 'synthetic'))
    p.add_argument('--filters', nargs='+', default=list(FILTERS), choices=FILTERS,
                   help='the generated sets to train on: unfiltered (none), PR-filtered (pr), or both')
    p.add_argument('--generators', nargs='+', default=['copy-paste'], choices=COPY_PASTE,
                   help='the copy-paste generators to compare (copy-paste-diverse: per-object appearance diversity)')
    p.add_argument('--arms', nargs='+', help='default: the derived experiment\'s (all four); e.g. real-only alone '
                   'extends the real-only curve to more N')
    p.add_argument('--work-dir', type=Path, default=REPO / 'work_dirs' / 'bench_accuracy')
    p.add_argument('--out-dir', type=Path, default=REPO / 'benchmarks' / 'accuracy')
    p.add_argument('--dry-run', action='store_true', help='print the stages and the compute estimate only')
    return p.parse_args(argv)


def tool(*args: str) -> None:
    """A product tool in a subprocess, its output on screen (progress and ETA of every stage)."""
    cmd = [sys.executable, str(REPO / 'tools' / args[0]), *args[1:]]
    print('$', ' '.join(cmd), flush=True)
    subprocess.run(cmd, cwd=REPO, check=True)


def variant_config(experiment: Path, pretrain_val: str, filter_names: list[str]) -> Path:
    """An experiment config inheriting the derived one: the benchmark's filters and pretrain validation."""
    from mmgen_det.filters.matching import DEFAULT_MIN_PRECISION, DEFAULT_MIN_RECALL
    # the product's default thresholds: the best cell of benchmarks/filter_auc.py
    pr = dict(type='pr', min_precision=DEFAULT_MIN_PRECISION, min_recall=DEFAULT_MIN_RECALL)
    # `_delete_`: the variant's filters replace the derived experiment's, which a config merge would keep
    filters = {'_delete_': True} | ({'none': None} if 'none' in filter_names else {}) | (
        {f'pr-p{pr["min_precision"]}-r{pr["min_recall"]}': pr} if 'pr' in filter_names else {})
    path = experiment.parent / f'bench_{pretrain_val}.py'
    path.write_text(f"_base_ = ['{experiment.name}']\nname = '{experiment.parent.name}_{pretrain_val}'\n"
                    f'filters = {filters!r}\npretrain_val = {pretrain_val!r}\n')
    return path


def run_dataset(name: str, source: Path, args) -> list[tuple[str, Path]]:
    """Derive the experiment folder (again, when the installed recipe changed) and run every variant of
    one dataset; the result files of each."""
    if not source.exists():
        print(f'bench_accuracy: {name}: {source} not found, skipped (give its path with {DATASETS[name][0]} PATH)')
        return []
    from mmgen_det.experiments.init import InitSettings, OtherOptionsError, reuse_or_init, training_images
    from mmgen_det.utils.io import read_json
    folder = args.work_dir / name
    settings = InitSettings(str(source), device='cpu', generators=args.generators)
    try:
        done = reuse_or_init(settings, folder)[1]
    except OtherOptionsError:  # made by an older benchmark with other init options: the folder is the benchmark's own
        done = reuse_or_init(settings, folder, reinit=True)[1]
    print(f'bench_accuracy: {name}: {done}')
    train = training_images(read_json(folder / 'data_profile.json')['splits_found'])
    num_real = [n for n in args.num_real if n == 'all' or int(n) < train]
    if num_real != args.num_real:
        print(f'bench_accuracy: {name} has {train} training images: N = {" ".join(num_real)}')
    # this invocation's N and seeds, also when the folder was made by an earlier one (its stages are reused)
    sweep = ['--cfg-options', f'num_real=[{",".join(num_real)}]', f'seeds=[{",".join(args.seeds)}]',
             *([f'arms=[{",".join(args.arms)}]'] if args.arms else [])]
    produced = []
    for pretrain_val in args.pretrain_val:
        config = variant_config(folder / 'experiment.py', pretrain_val, args.filters)
        tool('run_experiment.py', str(config), '--work-dir', str(folder), *sweep,
             *(['--dry-run'] if args.dry_run else []))
        if args.dry_run:
            continue
        stem = f'{name}_{pretrain_val}'
        args.out_dir.mkdir(parents=True, exist_ok=True)
        keep_results(folder / 'results.csv', args.out_dir / f'{stem}.csv')
        produced.append((stem, folder))
    return produced


RUN_KEY = ('num_real', 'arm', 'generator', 'filter', 'seed')


def keep_results(new_csv: Path, kept_csv: Path) -> None:
    """Add this invocation's runs to the benchmark's csv (a run measured again replaces its row), so
    invocations over other N, seeds or arms build one table; its mAP-vs-N plot is redrawn from all of them.
    Rows of another recipe (``backbone_init``) are dropped: they measured something else."""
    from mmgen_det.experiments.report import plot_map_vs_n, read_csv, write_csv
    new = read_csv(new_csv)
    recipes = {r['backbone_init'] for r in new}
    old = [r for r in read_csv(kept_csv) if r['backbone_init'] in recipes] if kept_csv.is_file() else []
    runs = {tuple(r[k] for k in RUN_KEY): r for r in old + new}
    rows = sorted(runs.values(), key=lambda r: (int(r['num_real']), r['arm'], r['generator'], r['filter'],
                                                int(r['seed'])))
    write_csv(rows, kept_csv)
    plot_map_vs_n(rows, kept_csv.with_suffix('.png'))


def kept_series(out_dir: Path, work_dir: Path) -> list[tuple[str, Path]]:
    """Every ``<dataset>_<pretrain_val>`` series the out dir keeps a csv of, whichever invocation measured
    it, with the experiment folder it was run in."""
    return [(csv.stem, work_dir / csv.stem.rsplit('_', 1)[0]) for csv in sorted(out_dir.glob('*.csv'))
            if csv.stem.rsplit('_', 1)[-1] in ('real', 'synthetic')]


def write_readme(series: list[tuple[str, Path]], args) -> Path:
    """README.md of the kept csvs; each csv gains its series' intervals and verdicts (computed from the
    runs' kept detections over all invocations), so the csv and the README say the same."""
    from mmgen_det.experiments import significance
    from mmgen_det.experiments.report import (aggregate, boxes_per_class_line, curve_warning, read_csv,
                                              real_only_curve, summary_table, write_csv)
    from mmgen_det.experiments.results import evaluated_boxes
    info = machine()
    spent = sum(run_seconds(read_csv(args.out_dir / f'{stem}.csv')) for stem, _ in series)
    lines = ['# Accuracy benchmark: real-only vs generated data, by number of real images',
             '', f'`python benchmarks/bench_accuracy.py` ({info["cores"]} cores, {info["cpu"]}; the runs below come '
             f'from one or more invocations, whose runs took {spent / 3600:.1f} h when they ran, per the csvs\' '
             '`wall_seconds`). COCO mAP on each dataset\'s real **test** split; the derived CPU recipe '
             f'({derived_recipe(series)}), copy-paste generation; "≈ real images": the N at which '
             'the real-only curve of the same sweep reaches the arm\'s mAP.', '']
    sections, summary_rows = [], []
    measured_elsewhere = readme_sections(args.out_dir / 'README.md')
    for stem, folder in series:
        csv = args.out_dir / f'{stem}.csv'
        rows = read_csv(csv)
        if not all(Path(r['test_config']).is_file() for r in rows if r.get('test_config')):
            # the runs' detections are on the machine that ran them: their csv and section stay as measured
            summary_rows += answer_rows(stem, rows)
            kept = measured_elsewhere.get(stem, [f'## {stem}', '', f'Every run: `{stem}.csv`.', ''])
            sections += with_table(kept, summary_table(aggregate(rows)))
            continue
        stats = significance.annotate(rows)
        write_csv(rows, csv)
        summary_rows += answer_rows(stem, rows)
        summary = aggregate(rows)
        warning = curve_warning(real_only_curve(summary))
        answer = significance.answer_lines(stats)
        sections += [f'## {stem}', '', f'Settings: `{folder.name}/bench_{stem.rsplit("_", 1)[1]}.py` over the '
                  f'derived `{folder.name}/experiment.py`; every run: `{stem}.csv`.', '',
                  *(['The answer (95% intervals):', '', *answer, ''] if answer else []),
                  summary_table(summary), '', *boxes_per_class_line(evaluated_boxes(rows)), '',
                  *([warning, ''] if warning else []), *significance.verdict_lines(stats), '',
                  *significance.class_table(stats),
                  f'![mAP vs N: {stem}]({stem}.png)', '']
    lines += ['## Where generated data helps, and by how much', '',
              'Per dataset and N, the setting the answer names (a gain whose 95% interval excludes 0 and '
              'that real-only trained as long does not explain), else the highest generated-data setting; '
              '"above compute-matched" counts the seeds in which it beats the compute-matched control '
              '(real-only itself where the two are the same training).', '',
              '| dataset | N | real-only mAP | best generated setting | its mAP | vs real-only | ratio | '
              'above compute-matched |', '|---|---:|---:|---|---:|---|---:|---:|', *summary_rows, '',
              *sections]
    path = args.out_dir / 'README.md'
    path.write_text('\n'.join(lines) + '\n')
    return path


def with_table(section: list[str], table: str) -> list[str]:
    """A kept section with its results table written anew (from the csv's interval and verdict columns),
    so that every series reads as today's report does."""
    start = next((i for i, line in enumerate(section) if line.startswith('| N | arm |')), None)
    if start is None:
        return section
    end = next((i for i in range(start, len(section)) if not section[i].startswith('|')), len(section))
    return [*section[:start], *table.split('\n'), *section[end:]]


def run_seconds(rows: list[dict]) -> float:
    """The wall time of a csv's runs, the compute-matched runs that are real-only's own training once."""
    real = {r['checkpoint'] for r in rows if r['arm'] == 'real-only'}
    return sum(float(r['wall_seconds'] or 0) for r in rows
               if not (r['arm'] == 'compute-matched' and r['checkpoint'] in real))


def readme_sections(readme: Path) -> dict[str, list[str]]:
    """The per-series sections (``## <stem>`` to the next heading of that level) of a README."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in readme.read_text().splitlines() if readme.is_file() else []:
        if line.startswith('## '):
            current = sections.setdefault(line[3:].strip(), [])
        if current is not None:
            current.append(line)
    return sections


def answer_rows(stem: str, rows: list[dict]) -> list[str]:
    """The summary table's rows of one series, from its csv's verdict columns (which survive the
    detections they were computed from): per N, real-only against the generated-data setting the
    answer would name (gains over real-only and over compute-matched, else gains, else the highest)."""
    from mmgen_det.experiments.report import CONTROL, REAL_ONLY, metric_value, series_label, series_of
    out = []
    for n in sorted({int(r['num_real']) for r in rows}):
        at_n = [r for r in rows if int(r['num_real']) == n and metric_value(r['mAP']) is not None]
        generated = [r for r in at_n if r['arm'] not in (REAL_ONLY, CONTROL) and r.get('delta_mAP')]
        if not generated:
            continue

        def rank(r: dict) -> tuple:
            gain, vs_control = r['verdict'].startswith('gain'), r['verdict_vs_compute_matched']
            explained = bool(vs_control) and not vs_control.startswith('gain')  # '': the control is real-only
            return gain and not explained, gain, float(r['delta_mAP'])
        best = max(generated, key=rank)

        def by_seed(series) -> dict[str, float]:
            return {r['seed']: metric_value(r['mAP']) for r in at_n if series_of(r) == series}
        real, chosen = by_seed((REAL_ONLY, '-', '-')), by_seed(series_of(best))
        control = by_seed((CONTROL, '-', '-')) or real
        above = sum(chosen[s] > control[s] for s in chosen if s in control)
        real_mean, chosen_mean = sum(real.values()) / len(real), sum(chosen.values()) / len(chosen)
        out.append(f'| {stem.rsplit("_", 1)[0]} | {n} | {real_mean:.3f} | {series_label(series_of(best))} | '
                   f'{chosen_mean:.3f} | {best["verdict"]} | {chosen_mean / real_mean:.2f}x | '
                   f'{above} of {len(chosen)} seeds |')
    return out


def derived_recipe(series: list[tuple[str, Path]]) -> str:
    """The detector and schedule the derived experiments trained, as the README states them."""
    from mmengine.config import Config

    from mmgen_det.utils.io import read_json
    folder = next((folder for _, folder in series if (folder / 'experiment.py').is_file()), None)
    if folder is None:
        return 'as each csv\'s `backbone_init` and `iterations` record it'
    derived = read_json(folder / 'data_profile.json')
    schedules = Config.fromfile(str(folder / 'experiment.py')).schedules
    return (f"`{derived['detector']}`, {schedules.default.max_iters} iterations per arm, pretrain "
            f"{schedules.pretrain.max_iters} + fine-tune {schedules.finetune.max_iters}")


def main(argv=None) -> None:
    args = parse_args(argv)
    produced = []
    for name in args.datasets:
        produced += run_dataset(name, getattr(args, name), args)
    if produced:  # the README shows every kept series, also those of earlier invocations
        print(f'bench_accuracy: {write_readme(kept_series(args.out_dir, args.work_dir), args)}')


if __name__ == '__main__':
    main()
