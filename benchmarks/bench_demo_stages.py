"""End to end: wall time and peak memory of each stage of ``make demo``, as the demo measured them.

Nothing is run twice: this only collects what ``tools/run_demo.py`` wrote into its work dir
(``results.csv`` and the per-stage records, e.g. ``<stage>/stage_done.json``, or any
``stage*.json`` / ``stages.json`` it writes). Without ``results.csv`` the result says
"demo not run yet" (run ``make demo`` first, then ``make bench``).
"""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, finish, machine, not_measured, parser, result, row, versions  # noqa: E402

DEFAULT_WORK_DIR = REPO / 'work_dirs' / 'demo'
#: figures a stage record may hold, and how to print them
FIELDS = {'seconds': 's', 'wall_s': 's', 'wall_seconds': 's', 'peak_rss_mb': 'MiB', 'peak_rss_mib': 'MiB',
          'peak_memory_mb': 'MiB', 'peak_rss_gib': 'GiB'}


def stage_records(work_dir: Path) -> dict[str, dict[str, Any]]:
    """Stage name (its folder relative to the work dir, or the file stem) -> its numeric figures."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(work_dir.rglob('stage*.json')):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        entries = data.items() if path.stem == 'stages' and isinstance(data, dict) else [(None, data)]
        for name, rec in entries:
            if not isinstance(rec, dict):
                continue
            figures = {k: v for k, v in rec.items() if k in FIELDS and isinstance(v, (int, float))}
            if figures:
                stage = name or (str(path.parent.relative_to(work_dir)) if path.parent != work_dir else path.stem)
                out[stage] = figures
    return out


def run(work_dir: Path = DEFAULT_WORK_DIR) -> dict[str, Any]:
    title = 'make demo: wall time and peak memory per stage (collected, not rerun)'
    csv_path = work_dir / 'results.csv'
    if not csv_path.is_file():
        return result('demo_stages', title, dict(work_dir=str(work_dir)), {},
                      [not_measured('demo stages', f'demo not run yet (no {csv_path}); run `make demo` first')])
    with open(csv_path, newline='') as f:
        arms = list(csv.DictReader(f))
    stages = stage_records(work_dir)
    rows = [row(f'stage {name}', ', '.join(f'{k} = {v:.1f} {FIELDS[k]}' for k, v in figures.items()))
            for name, figures in stages.items()]
    if not any(k.startswith('peak') for figures in stages.values() for k in figures):
        rows.append(not_measured('peak memory per stage', 'the demo records no peak memory for its stages'))
    rows += [row(f"arm {arm.get('arm')}", ', '.join(f'{k} = {v}' for k, v in arm.items() if k != 'arm')) for arm in arms]
    return result('demo_stages', title, dict(work_dir=str(work_dir)), dict(stages=stages, results_csv=arms), rows)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser(__doc__)
    p.add_argument('--work-dir', type=Path, default=DEFAULT_WORK_DIR, help="the demo's --work-dir")
    args = p.parse_args(argv)
    res = run(args.work_dir)
    res['machine'], res['versions'] = machine(), versions()
    return finish(res, args.out)


if __name__ == '__main__':
    main()
