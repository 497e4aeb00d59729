"""Run every benchmark (``make bench``); write ``benchmarks/results.json`` and ``benchmarks/results.md``.

Each benchmark runs in its own subprocess (fresh memory figures, its own torch thread setting) and
returns a dict with rows; a benchmark that crashes is recorded as "not measured" with its error,
never with a number. Every ratio is of medians measured side by side inside one benchmark run.

    python benchmarks/run_all.py [--quick] [--only generation resume ...] [--out-dir benchmarks]
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, machine, not_measured, result, versions  # noqa: E402

HERE = Path(__file__).resolve().parent
#: name -> script, in run order (the PR scorer last: it depends on mmgen_det.filters)
BENCHMARKS = {
    'generation': 'bench_generation.py',
    'resume': 'bench_resume.py',
    'dataset_scale': 'bench_dataset_scale.py',
    'hook_overhead': 'bench_hook_overhead.py',
    'pr_scoring': 'bench_pr_scoring.py',
    'demo_stages': 'bench_demo_stages.py',
    'gallery': 'bench_gallery.py',
    'layouts_copy_paste': 'bench_layouts_copy_paste.py',
    'detector_family': 'bench_detector_family.py',
    'cpu_recipe_speed': 'bench_cpu_recipe_speed.py',
    'bootstrap': 'bench_bootstrap.py',
    'cli_startup': 'bench_cli_startup.py',
}
GPU_GENERATION = ['--random-weights', '--device', 'cuda', '--dtype', 'float16', '--batch-sizes', '1', '4', '8',
                  '--no-profile']


def run_benchmark(name: str, args: Sequence[str], quick: bool, tmp: Path) -> dict[str, Any]:
    """One benchmark in a subprocess; its result dict, or a not-measured entry saying why."""
    out = tmp / f'{name}.json'
    cmd = [sys.executable, str(HERE / BENCHMARKS[name.split(':')[0]]), *args, '--out', str(out)]
    if quick and name != 'demo_stages':
        cmd.append('--quick')
    print(f'\n=== {name}: {" ".join(cmd[1:])}', flush=True)
    start, cpu_start = time.perf_counter(), children_cpu_s()
    proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seconds, cpu = time.perf_counter() - start, children_cpu_s() - cpu_start
    print(proc.stdout.rstrip(), flush=True)
    if proc.returncode != 0 or not out.is_file():
        last = (proc.stderr.strip().splitlines() or ['no output'])[-1]
        print(proc.stderr[-3000:], file=sys.stderr)
        res = result(name, name, {}, dict(stderr_tail=proc.stderr[-3000:]),
                     [not_measured(name, f'benchmark crashed (exit {proc.returncode}): {last}')])
    else:
        res = json.loads(out.read_text())
    res['wall_s'], res['cpu_s'] = round(seconds, 1), round(cpu, 1)
    return res


def children_cpu_s() -> float:
    """User + system CPU seconds of finished child processes (a load-independent size of the run)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cell(text: Any) -> str:
    return str(text if text is not None else '').replace('|', '\\|').replace('\n', ' ')


def markdown(report: dict[str, Any]) -> str:
    m, v = report['machine'], report['versions']
    lines = [f"# mmgen_det benchmarks ({'quick' if report['quick'] else 'full'} run)", '',
             f"{report['date']} · {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, GPU: {m['cuda'] or 'none'} · "
             f"load average at start {m['load_avg_1m']} · total wall time {report['total_wall_s'] / 60:.1f} min "
             f"(CPU time {report['total_cpu_s'] / 60:.1f} min)", '',
             'Versions: ' + ', '.join(f'{k} {val}' for k, val in v.items() if val), '',
             f"**Summary:** {report['summary']}", '']
    for res in report['benchmarks']:
        lines += [f"## {res['title']}", '']
        if res.get('settings'):
            lines += ['Settings: ' + ', '.join(f'{k}={val}' for k, val in res['settings'].items()), '']
        lines += ['| Figure | Value | Target | Status | Why missed / note |', '|---|---|---|---|---|']
        for r in res['rows']:
            status = {True: 'met', False: '**missed**', None: ''}[r['met']]
            lines.append(f"| {cell(r['metric'])} | {cell(r['value'])} | {cell(r['target'])} | {status} | {cell(r['note'])} |")
        for note in res.get('notes', []):
            lines += ['', f'Note: {note}']
        profile = res.get('measurements', {}).get('profile_top')
        if profile:
            b = max(res['settings'].get('batch_sizes') or [res['settings'].get('batch_size')])
            lines += ['', f"Profile (cProfile, one batched call, B={b}), "
                      'top functions by own time:', '', '| Function | Calls | Own s | Cumulative s | Share |',
                      '|---|---|---|---|---|']
            lines += [f"| {cell(p['function'])} | {p['calls']} | {p['tottime_s']} | {p['cumtime_s']} | {p['share']:.1%} |"
                      for p in profile]
        cpu = f", CPU time {res['cpu_s']} s" if 'cpu_s' in res else ''
        lines += ['', f"_(benchmark wall time {res['wall_s']} s{cpu})_", '']
    return '\n'.join(lines)


def summarise(benchmarks: Sequence[dict[str, Any]], total_s: float) -> str:
    """One line: targets met / missed (named) / figures not measured, and the total wall time."""
    rows = [r for b in benchmarks for r in b['rows']]
    met = sum(r['met'] is True for r in rows)
    missed = [r['metric'] for r in rows if r['met'] is False]
    unmeasured = sum(r['value'].startswith('not measured') for r in rows)
    return (f"{met} targets met, {len(missed)} missed" + (f" ({'; '.join(missed)})" if missed else '')
            + f", {unmeasured} figures not measured; total {total_s / 60:.1f} min")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument('--quick', action='store_true', help='every benchmark in its reduced smoke-test size')
    p.add_argument('--only', nargs='+', choices=list(BENCHMARKS), help='run only these')
    p.add_argument('--out-dir', type=Path, default=HERE, help='where results.json and results.md go')
    p.add_argument('--demo-work-dir', type=Path, default=REPO / 'work_dirs' / 'demo')
    args = p.parse_args(argv)

    import torch
    plan: list[tuple[str, list[str]]] = [(name, ['--work-dir', str(args.demo_work_dir)] if name == 'demo_stages' else [])
                                         for name in (args.only or BENCHMARKS)]
    cores = os.cpu_count() or 1
    if cores > 1:  # batching pays where one sample leaves cores idle: measured with every core too
        for name, extra in (('generation', ['--no-profile']), ('pr_scoring', [])):
            if not args.only or name in args.only:
                plan.insert(next(i for i, (n, _) in enumerate(plan) if n == name) + 1,
                            (f'{name}:all-cores', ['--threads', str(cores), *extra]))
    if torch.cuda.is_available() and (not args.only or 'generation' in args.only):
        plan.insert(1, ('generation:cuda-full-size', GPU_GENERATION))
    start = time.perf_counter()
    info = machine()
    with tempfile.TemporaryDirectory(prefix='mmgen_det_bench_') as tmp:
        benchmarks = [run_benchmark(name, extra, args.quick, Path(tmp)) for name, extra in plan]
    total = time.perf_counter() - start
    report = dict(date=datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'), quick=args.quick,
                  machine=info, versions=versions(), total_wall_s=round(total, 1),
                  total_cpu_s=round(sum(b['cpu_s'] for b in benchmarks), 1),
                  summary=summarise(benchmarks, total), benchmarks=benchmarks)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / 'results.json').write_text(json.dumps(report, indent=2, default=str))
    text = markdown(report)
    (args.out_dir / 'results.md').write_text(text + '\n')
    print('\n' + text)
    print(f"\nbench: {report['summary']} -> {args.out_dir / 'results.json'}, {args.out_dir / 'results.md'}")
    return report


if __name__ == '__main__':
    main()
