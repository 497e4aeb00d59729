"""Shared benchmark plumbing: CLI, medians over repeats, peak RSS, machine/versions info, result rows.

Every benchmark returns a dict with the same top-level keys (see :func:`result`); ``run_all.py``
renders its ``rows`` into the markdown table. A row is one figure: ``value`` is a string ready to
print, ``met`` is True/False against ``target`` (None when there is no target or nothing was
measured), and ``note`` says why a target was missed and what would close it.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import resource
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Sequence

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # benchmarks run as scripts, also before `pip install -e .`
    sys.path.insert(1, str(REPO))
VERSIONED = ('torch', 'diffusers', 'transformers', 'mmengine', 'mmcv', 'mmdet', 'numpy', 'pycocotools')


def parser(doc: str | None) -> argparse.ArgumentParser:
    """The common CLI: ``--quick`` (smoke-test sizes), ``--repeats``, ``--out`` (result JSON)."""
    p = argparse.ArgumentParser(description=(doc or '').strip().splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--quick', action='store_true', help='small sizes, for smoke tests and development')
    p.add_argument('--repeats', type=int, default=None, help='timed repeats per measurement (median reported)')
    p.add_argument('--out', type=Path, default=None, help='write the result dict here as JSON')
    return p


def finish(res: dict[str, Any], out: Path | None) -> dict[str, Any]:
    """Write ``res`` to ``out`` (if given) and print its rows."""
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(res, indent=2, default=str))
    for row in res['rows']:
        status = {True: ': met', False: ': MISSED', None: ''}[row['met']]
        print(f"{res['benchmark']}: {row['metric']}: {row['value']}"
              + (f" (target {row['target']}{status})" if row['target'] else ''))
    return res


def main_with_common_cli(doc: str | None, run: Callable[[bool, int | None], dict[str, Any]],
                         argv: list[str] | None = None) -> dict[str, Any]:
    """``main`` of a benchmark that takes only the common CLI: ``run(quick, repeats)``, stamped with the
    machine and versions so every result says where it was measured."""
    args = parser(doc).parse_args(argv)
    res = run(args.quick, args.repeats)
    res['machine'], res['versions'] = machine(), versions()
    return finish(res, args.out)


def median_time(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> dict[str, Any]:
    """Median/min/all wall seconds of ``fn()`` over ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return summary(times)


def profile_top(fn: Callable[[], Any], top: int = 15) -> list[dict[str, Any]]:
    """cProfile of one call of ``fn``: the ``top`` functions by own time, with their share of the total."""
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    stats = pstats.Stats(prof, stream=io.StringIO())
    entries = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    total = sum(v[2] for v in stats.stats.values())
    return [dict(function=f'{Path(file).name}:{line}({name})' if file != '~' else name, calls=nc,
                 tottime_s=round(tt, 4), cumtime_s=round(ct, 4), share=round(tt / total, 3))
            for (file, line, name), (_, nc, tt, ct, _) in entries]


def summary(times: Sequence[float]) -> dict[str, Any]:
    return dict(median_s=statistics.median(times), min_s=min(times), times_s=[round(t, 6) for t in times])


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    """Current resident set size of this process, in MiB."""
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2 ** 20


def run_json_subprocess(args: Sequence[str], timeout: float = 900,
                        env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``python ARGS`` in a fresh process; its last stdout line must be a JSON object."""
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise RuntimeError(f'{args} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {'python': platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ''
    try:
        cpu = next(line.split(':', 1)[1].strip() for line in Path('/proc/cpuinfo').read_text().splitlines()
                   if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    mem_gib = None
    try:
        mem_gib = round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2 ** 30, 1)
    except (ValueError, OSError):
        pass
    info: dict[str, Any] = dict(system=platform.platform(), cpu=cpu, cores=os.cpu_count(), memory_gib=mem_gib,
                                load_avg_1m=round(os.getloadavg()[0], 2))
    try:
        import torch
        info['cuda'] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        info['cuda'] = None
    return info


def row(metric: str, value: str, target: str | None = None, met: bool | None = None,
        note: str = '') -> dict[str, Any]:
    return dict(metric=metric, value=value, target=target, met=met, note=note)


def not_measured(metric: str, reason: str, target: str | None = None) -> dict[str, Any]:
    """A row that says why there is no number (never a made-up one)."""
    return row(metric, f'not measured: {reason}', target, None)


def result(benchmark: str, title: str, settings: dict[str, Any], measurements: dict[str, Any],
           rows: list[dict[str, Any]], notes: Sequence[str] = ()) -> dict[str, Any]:
    return dict(benchmark=benchmark, title=title, settings=settings, measurements=measurements, rows=rows,
                notes=list(notes))
