"""A detector without a single detection gets no COCO metrics: the training stage tests its last
checkpoint and records the val mAP as missing with a flag, and the result row keeps every metric
missing (an empty cell, ``n/a`` in the tables), never 0."""
from __future__ import annotations

from helpers import tiny_demo_detector_cfg
from mmengine.config import Config


def untrained_cfg(fish_coco) -> Config:
    """The CPU demo detector at 96x54 on the shipped sample, its scores never above the threshold."""
    cfg = tiny_demo_detector_cfg(fish_coco, None)
    cfg.model.test_cfg.score_thr = 1.1  # no detection survives
    return cfg


def test_no_detections_means_missing_metrics_not_zero(fish_coco, tmp_path):
    from mmgen_det.experiments import report, stages
    from mmgen_det.experiments.config import Schedule
    train_dir = tmp_path / 'real'
    cfg = stages.runnable_config(untrained_cfg(fish_coco), Schedule(2, 1, patience=1, warmup_iters=0), 0, train_dir,
                                 'real_no_metrics', 'none', progress='real no-metrics')
    trained = stages.train(cfg, train_dir)
    assert trained['val_mAP'] is None and trained['val_metrics_computed'] is False
    assert trained['best_iter'] is None and trained['checkpoint'] == 'iter_2.pth'  # the last one is tested
    tested = stages.test(Config.fromfile(str(train_dir / 'config.py')), str(train_dir / trained['checkpoint']),
                         tmp_path / 'test')
    assert tested['metrics'] == {}
    row = dict(num_real=4, arm='real-only', generator='-', filter='-', seed=0, num_synthetic=0, iterations=2,
               wall_seconds=1.0, **report.metric_columns(tested['metrics']), val_mAP=trained['val_mAP'],
               val_metrics_computed=trained['val_metrics_computed'])
    assert row['mAP'] is None and row['metrics_computed'] is False
    report.write_csv([row], tmp_path / 'results.csv')
    back, = report.read_csv(tmp_path / 'results.csv')
    assert (back['mAP'], back['mAP50'], back['val_mAP'], back['metrics_computed'],
            back['val_metrics_computed']) == ('', '', '', 'False', 'False')
    assert '| n/a (no metrics for 1 of 1 seeds: no detection) | n/a |' in report.summary_table(report.aggregate([back]))
