"""End to end: wall time and peak memory of each stage of ``make demo``, as the demo measured them.

Nothing is run twice: this only collects what ``tools/run_experiment.py`` recorded in the demo's work
dir: ``stage_log.jsonl`` (one line per stage: seconds, peak resident memory of the process, iterations)
and ``results.csv``. Stages found in the cache (not run by that invocation) are listed as cached.
Without ``results.csv`` the result says "demo not run yet" (run ``make demo`` first, then ``make bench``).
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, finish, machine, not_measured, parser, result, row, versions  # noqa: E402

from mmgen_det.experiments.cache import read_stage_log  # noqa: E402

DEFAULT_WORK_DIR = REPO / 'work_dirs' / 'demo'


def stage_row(entry: dict[str, Any]) -> dict[str, Any]:
    name = f"stage {entry['stage']} {entry['label']}"
    if entry['status'] != 'ran':
        return row(name, f"{entry['status']} (not run by the last invocation)")
    figures = [f"{entry['seconds']:.1f} s"]
    if entry.get('peak_rss_mib') is not None:
        figures.append(f"peak RSS {entry['peak_rss_mib']:.0f} MiB")
    if entry.get('iterations'):
        figures.append(f"{entry['iterations']} iterations")
    return row(name, ', '.join(figures))


def run(work_dir: Path = DEFAULT_WORK_DIR) -> dict[str, Any]:
    title = 'make demo: wall time and peak memory per stage (collected, not rerun)'
    csv_path = work_dir / 'results.csv'
    if not csv_path.is_file():
        return result('demo_stages', title, dict(work_dir=str(work_dir)), {},
                      [not_measured('demo stages', f'demo not run yet (no {csv_path}); run `make demo` first')])
    with open(csv_path, newline='') as f:
        arms = list(csv.DictReader(f))
    log = read_stage_log(work_dir)
    latest = {(e['stage'], e['label']): e for e in log}  # the last invocation's view of each stage
    ran = [e for e in latest.values() if e['status'] == 'ran']
    rows = [stage_row(e) for e in latest.values()]
    if ran:
        peaks = [e['peak_rss_mib'] for e in ran if e.get('peak_rss_mib') is not None]
        rows.append(row('all stages run', f"{sum(e['seconds'] for e in ran):.1f} s"
                        + (f', highest peak RSS {max(peaks):.0f} MiB' if peaks else '')))
    rows += [row(f"arm {a['arm']} N={a['num_real']} ({a['generator']}, {a['filter']})",
                 f"mAP {a['mAP']}, mAP50 {a['mAP50']}, {a['iterations']} iterations, {a['wall_seconds']} s")
             for a in arms]
    return result('demo_stages', title, dict(work_dir=str(work_dir)), dict(stages=list(latest.values()),
                                                                           results_csv=arms), rows)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser(__doc__)
    p.add_argument('--work-dir', type=Path, default=DEFAULT_WORK_DIR, help="the demo's --work-dir")
    args = p.parse_args(argv)
    res = run(args.work_dir)
    res['machine'], res['versions'] = machine(), versions()
    return finish(res, args.out)


if __name__ == '__main__':
    main()
