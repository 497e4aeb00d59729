"""Command start-up: how long ``--help`` of every command takes, against ``python -c pass``.

A user's first contact with a command is ``--help`` or a mistyped option, answered before any work.
Each ``tools/<name>.py --help`` and ``python -m mmgen_det.cli.<name> --help`` runs in a fresh process,
interleaved with ``python -c pass`` in every round (the interpreter's own start-up on this machine, so
the ratio holds on a loaded one); the median of ``--repeats`` rounds (3) is reported. Target: < 2 s
each, but for ``train`` and ``test``, mmdet's own scripts (:data:`MMDET_SCRIPTS`). A command over it is named with what its ``--help`` imports that is heavy (torch, mmdet) and the
module of ours that imports it first (``python -X importtime``).
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, main_with_common_cli, result, row, summary  # noqa: E402

TARGET_S = 2.0
#: commands that are mmdet's own scripts (``mmdet/.mim/tools``), whose parser comes after mmdet's imports:
#: their --help costs what mmdet's does, so they are measured without the target
MMDET_SCRIPTS = ('train', 'test')
#: imports that alone cost seconds; the first of them a --help pulls in is named in a missed row
HEAVY = ('mmdet', 'torch')
BASELINE = ('-c', 'pass')


def commands(quick: bool) -> dict[str, tuple[str, ...]]:
    """Label -> python arguments of each command's --help: the checkout's scripts, then (not --quick)
    the package's modules."""
    tools = {f'tools/{p.name}': (f'tools/{p.name}', '--help') for p in sorted((REPO / 'tools').glob('*.py'))}
    if quick:
        return tools
    modules = {f'-m mmgen_det.cli.{p.stem}': ('-m', f'mmgen_det.cli.{p.stem}', '--help')
               for p in sorted((REPO / 'mmgen_det' / 'cli').glob('*.py'))
               if (REPO / 'tools' / p.name).is_file()}
    return {**tools, **modules}


def wall_s(args: Sequence[str]) -> float:
    """Seconds ``python ARGS`` takes in a fresh process (it must exit 0)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f'python {" ".join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}')
    return seconds


def heavy_import(args: Sequence[str]) -> str | None:
    """The first of :data:`HEAVY` that ``python ARGS`` imports, with the closest module of ours that
    imports it (``python -X importtime`` prints each import after the ones it caused, indented more)."""
    proc = subprocess.run([sys.executable, '-X', 'importtime', *args], cwd=REPO, capture_output=True,
                          text=True, check=True)
    entries = []  # (depth, module), in the order printed
    for line in proc.stderr.splitlines():
        if line.startswith('import time:') and line.count('|') == 2:
            name = line.rsplit('|', 1)[1]
            entries.append(((len(name) - len(name.lstrip())) // 2, name.strip()))
    for heavy in HEAVY:
        at = next((i for i, (_, name) in enumerate(entries) if name == heavy), None)
        if at is None:
            continue
        depth, ours = entries[at][0], None
        for level, name in entries[at + 1:]:  # the importers: each later entry that is less indented
            if level < depth:
                depth = level
                ours = name if name.startswith('mmgen_det') and ours is None else ours
        return f'{heavy} (imported by {ours})' if ours else heavy
    return None


def run(quick: bool = False, repeats: int | None = None) -> dict[str, Any]:
    repeats = repeats or (1 if quick else 3)
    todo = commands(quick)
    times: dict[str, list[float]] = {label: [] for label in ['python -c pass', *todo]}
    for _ in range(repeats):  # interleaved: a load change on the machine hits every command alike
        times['python -c pass'].append(wall_s(BASELINE))
        for label, args in todo.items():
            times[label].append(wall_s(args))
    stats = {label: summary(t) for label, t in times.items()}
    base = stats['python -c pass']['median_s']
    rows = [row('python -c pass', f'{base:.3f} s')]
    for label, args in todo.items():
        median = stats[label]['median_s']
        value = f'{median:.2f} s ({median / base:.0f}x python -c pass)'
        if label.removesuffix('.py').rsplit('/', 1)[-1].rsplit('.', 1)[-1] in MMDET_SCRIPTS:
            rows.append(row(f'{label} --help', value, None, None, "mmdet's own script: its imports come first"))
            continue
        met = median < TARGET_S
        note = '' if met else f'imports {heavy_import(args) or "no torch or mmdet"} before parsing'
        rows.append(row(f'{label} --help', value, f'< {TARGET_S:g} s', met, note))
    print(table(stats, base))
    return result('cli_startup', 'Command start-up: --help of every command', dict(repeats=repeats),
                  dict(wall_s=stats), rows)


def table(stats: dict[str, dict[str, Any]], base: float) -> str:
    """The medians as a text table, with each one's ratio to ``python -c pass``."""
    width = max(map(len, stats))
    lines = [f'{"command (--help)":<{width}}  median s  x python -c pass', '-' * (width + 29)]
    lines += [f'{label:<{width}}  {s["median_s"]:8.2f}  {s["median_s"] / base:16.1f}' for label, s in stats.items()]
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return main_with_common_cli(__doc__, run, argv)


if __name__ == '__main__':
    main()
