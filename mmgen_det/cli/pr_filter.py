"""Score a synthetic set with a filter detector; store the scores; show how many images survive.

    python tools/pr_filter.py SYNTH_DIR --detector-config C --checkpoint K \
        [--min-precision 0.1] [--min-recall 0.1] [--score-thr 0.05] [--iou-thr 0.3] [--batch-size 8] \
        [--class-aware] [--device cpu] [--plot PNG]

Scores go into SYNTH_DIR/annotations.json under a key made of the checkpoint hash and thresholds
(printed), so rerunning with other --min-* values costs no inference, and a killed run resumes.
The defaults are the measured ones (``mmgen_det.filters.matching``). Before training, the tool prints
what --min-precision/--min-recall keep (images, boxes, boxes per class) and warns when that is under
10% of the set. Keep images when training with ``SyntheticDetDataset(filter_cfg=dict(min_precision=P,
min_recall=R, pr_key=KEY))``; this tool never deletes images.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmgen_det.utils.command_line import ArgumentParser, positive_int
from mmgen_det.filters.matching import (DEFAULT_IOU_THR, DEFAULT_MIN_PRECISION, DEFAULT_MIN_RECALL,
                                        DEFAULT_SCORE_THR)


def unit_interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'must be a number in [0, 1], got {text!r}') from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f'must be in [0, 1], got {text}')
    return value


def existing_file(text: str) -> str:
    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(f'{text} does not exist')
    return text


def parse_args(argv=None) -> argparse.Namespace:
    parser = ArgumentParser(description='Score a synthetic set with a filter detector (resumable)')
    parser.add_argument('synth_dir', help='synthetic set folder (with annotations.json)')
    parser.add_argument('--detector-config', required=True, type=existing_file,
                        help='mmdet config of the filter detector (e.g. configs/filter/*.py)')
    parser.add_argument('--checkpoint', required=True, type=existing_file,
                        help='trained filter detector weights (.pth), e.g. from tools/train.py CONFIG')
    parser.add_argument('--min-precision', type=unit_interval, default=DEFAULT_MIN_PRECISION,
                        help='report what keeping images with precision >= this keeps (default: %(default)s)')
    parser.add_argument('--min-recall', type=unit_interval, default=DEFAULT_MIN_RECALL,
                        help='report what keeping images with recall >= this keeps (default: %(default)s)')
    parser.add_argument('--score-thr', type=unit_interval, default=DEFAULT_SCORE_THR,
                        help='detections below are ignored (default: %(default)s)')
    parser.add_argument('--iou-thr', type=unit_interval, default=DEFAULT_IOU_THR,
                        help='IoU needed to match a layout box (default: %(default)s)')
    parser.add_argument('--batch-size', type=positive_int, default=8, help='images per forward pass')
    parser.add_argument('--class-aware', action='store_true',
                        help='a detection matches only a box of its class (detector must know the classes)')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda:0'")
    parser.add_argument('--plot', help='precision/recall PNG (default SYNTH_DIR/pr_scores/KEY.png)')
    parser.add_argument('--no-progress', action='store_true', help='do not print a progress bar')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    from mmgen_det.filters.plots import save_pr_plot
    from mmgen_det.filters.pr_filter import FilterDetector, MatchSettings
    from mmgen_det.filters.scoring import SCORES_DIR, kept_at, load_layouts, score_set, stored_scores, survival_table
    synth_dir = Path(args.synth_dir)
    try:
        load_layouts(synth_dir)  # fail on a bad set before spending time on the model
        detector = FilterDetector(args.detector_config, args.checkpoint, device=args.device)
        settings = MatchSettings(args.score_thr, args.iou_thr, args.class_aware)
        summary = score_set(synth_dir, detector, settings, args.batch_size, progress=not args.no_progress)
    except (FileNotFoundError, ValueError) as e:
        sys.exit(f'pr_filter: {e}')

    coco = load_layouts(synth_dir)
    records = list(stored_scores(coco, summary.key).values())
    print(f'\nimages surviving (min_precision rows x min_recall columns), key {summary.key}:')
    print(survival_table(records))
    plot = save_pr_plot([r['precision'] for r in records], [r['recall'] for r in records],
                        args.plot or synth_dir / SCORES_DIR / f'{summary.key}.png',
                        title=f'{synth_dir.name}: {summary.key}', min_precision=args.min_precision,
                        min_recall=args.min_recall)
    kept = kept_at(coco, summary.key, args.min_precision, args.min_recall)
    print(f'plot: {plot}')
    print('\n'.join(kept.lines()))
    if kept.warning():
        print(f'pr_filter: WARNING: {kept.warning()}', file=sys.stderr)
    print(f"train on them with SyntheticDetDataset(filter_cfg=dict(min_precision={args.min_precision}, "
          f"min_recall={args.min_recall}, pr_key='{summary.key}'))")
    print(f'pr_filter: {summary.line()}; {kept.images}/{kept.num_images} kept at '
          f'min_precision={args.min_precision}, min_recall={args.min_recall}')


if __name__ == '__main__':
    main()
