"""What a sweep leaves: each stage's result, one row per run, and the files written from the rows.

In: the stage results the runner collected (:class:`StageResult`: stage kind, key, folder, status,
record) and the experiment. Out: ``result_row`` dicts (one results.csv row per run: test metrics,
iterations and seconds of every stage the run needed) and, from ``write_outputs``, in the work dir
``results.csv``, ``map_vs_n.png``, ``samples_<generator>.png``, ``report.md`` and ``report.html``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..generation.set_format import ANNOTATIONS
from ..utils.io import atomic_write, read_json
from . import report, report_html, significance
from .cache import read_stage_log
from .config import TRAINING_STAGES, Experiment



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


def result_row(n: int, arm: str, gen: str, filt: str, seed: int, tested: StageResult, chain: list[StageResult],
               kept: int) -> dict[str, Any]:
    """One results.csv row: metrics of the test, iterations and seconds of every stage it needed."""
    # the filter detector's training is not counted in a row's iterations
    trainings = [s for s in chain if s.stage in TRAINING_STAGES and s.stage != 'filter-detector']
    trained = trainings[-1]
    return dict(
        num_real=n, arm=arm, generator=gen, filter=filt, seed=seed,
        **report.metric_columns(tested.record.get('metrics', {})),
        num_synthetic=kept,
        iterations=sum(s.iterations for s in trainings),
        stage_iterations=' '.join(f'{s.stage}={s.iterations}' for s in chain if s.stage in TRAINING_STAGES),
        wall_seconds=round(sum(s.seconds for s in chain), 1),
        stage_seconds=' '.join(f'{s.stage}={s.seconds:.0f}' for s in chain),
        val_mAP=trained.record.get('val_mAP'), best_iter=trained.record.get('best_iter'),
        val_metrics_computed=trained.record.get('val_metrics_computed'),
        backbone_init=trained.record.get('backbone_init'),
        checkpoint=trained.checkpoint if 'checkpoint' in trained.record else None,
        test_config=str(tested.dir / 'config.py'),
        detections=str(tested.dir / tested.record['detections']) if 'detections' in tested.record else None)


def write_outputs(exp: Experiment, work_dir: Path, results: Sequence[StageResult],
                  rows: list[dict[str, Any]]) -> dict[str, Path]:
    """results.csv, map_vs_n.png, samples_<generator>.png, report.md, and report.html with a gallery of
    every generated set. The rows gain the columns of their series' intervals and verdict
    (``significance``), so the csv, the tables and the text say the same."""
    out = dict(csv=work_dir / 'results.csv', report=work_dir / 'report.md')
    stats = significance.annotate(rows)
    report.write_csv(rows, out['csv'])
    images = {'mAP vs N': report.plot_map_vs_n(rows, work_dir / 'map_vs_n.png').name}
    for gen in exp.generators if exp.synthetic_arms else ():
        grid = sample_grid(results, gen, work_dir / f'samples_{gen}.png')
        if grid:
            images[f'synthetic samples: {gen}'] = grid.name
    notes = ['Filter-detector training (PR filters) is not counted in `iterations`; its time is in '
             '`wall_seconds`.'] if exp.filter_detector else []
    real_checkpoints = {r['checkpoint'] for r in rows if r['arm'] == 'real-only'}
    if any(r['checkpoint'] in real_checkpoints for r in rows if r['arm'] == 'compute-matched'):
        notes.append('`compute-matched` and `real-only` are one training here: real-only ran a fixed schedule '
                     '(no early stop) exactly as long as the generated-data runs, so it is its own control.')
    data = next(r.record for r in results if r.stage == 'data')
    text = report.render_report(exp.name, rows, exp.settings(), images, notes,
                                report.data_section(data, exp.derived, evaluated_boxes(rows)),
                                significance.verdict_lines(stats), significance.class_table(stats),
                                significance.answer_lines(stats))
    with atomic_write(out['report'], 'w') as f:
        f.write(text)
    out['html'] = report_html.write_report_html(work_dir, exp.name, text, results)
    return out


def evaluated_boxes(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Boxes per class (label order) of the test split the runs were evaluated on, as COCO evaluation
    counts them (no crowd boxes); empty when no run was tested."""
    configs = [r['test_config'] for r in rows if r.get('test_config')]
    if not configs:
        return {}
    return significance.evaluated_boxes_per_class(read_json(significance.ground_truth_file(configs[0])))


def sample_grid(results: Sequence[StageResult], gen: str, path: Path, count: int = 8) -> Path | None:
    """A grid of the first images of this generator's first set (with their layout boxes)."""
    from ..visualization import coco_grid
    sets = [r for r in results if r.stage == 'generate' and r.record.get('generator') == gen]
    if not sets:
        return None
    set_dir = sets[0].dir / 'set'
    coco = read_json(set_dir / ANNOTATIONS)
    grid = coco_grid(coco, set_dir, [im['id'] for im in coco['images'][:count]], cols=4)
    with atomic_write(path) as f:
        grid.save(f, format='PNG')
    return path


def training_stages_run(work_dir: str | Path, since_line: int = 0) -> list[dict[str, Any]]:
    """Training stages the stage log says were RUN (not cached), from line ``since_line`` on."""
    return [e for e in read_stage_log(work_dir)[since_line:]
            if e['status'] == 'ran' and e['stage'] in TRAINING_STAGES]
