"""The CPU demo: real-only vs copy-paste-pretrained + real-finetuned detector on the shipped sample.

    python tools/run_demo.py [--work-dir work_dirs/demo] [--num-real 50] [--iters 300]

Stages (each skipped when its output exists, so a rerun only redoes what is missing):
convert the shipped YOLO sample to COCO -> take an N-image real subset -> train real-only ->
generate a copy-paste set from the same N images and pretrain on it -> fine-tune on the N images ->
evaluate every model once on the real test split -> results.csv + a printed table.
Every training and evaluation goes through tools/train.py and tools/test.py (mmdet's own scripts).
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO_CFGS = REPO / 'configs' / 'demo'
METRICS = ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_s')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='CPU demo: real-only vs synthetic-pretrain + real-finetune')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--num-real', type=int, default=50, help='real training images (N)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--iters', type=int, default=300, help='iterations per training stage')
    parser.add_argument('--num-synthetic', type=int, default=400, help='copy-paste images to generate')
    return parser.parse_args(argv)


def run(cmd: list[str], log: Path) -> float:
    """Run a command, teeing its output to ``log``; returns wall seconds; exits on failure."""
    print('$', ' '.join(cmd), flush=True)
    start = time.monotonic()
    with open(log, 'w') as f:
        proc = subprocess.run(cmd, cwd=REPO, stdout=f, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        sys.exit(f'failed ({proc.returncode}); see {log}:\n' + ''.join(log.read_text().splitlines(True)[-30:]))
    return time.monotonic() - start


def schedule_options(iters: int) -> list[str]:
    val = max(iters // 3, 1)
    return [f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={val}',
            f'default_hooks.checkpoint.interval={val}',
            f'param_scheduler.1.end={iters}', f'param_scheduler.1.milestones=[{int(iters * 0.75)}]']


def data_options(data_root: Path, train_ann: str, keys=('train', 'val', 'test')) -> list[str]:
    root = f'{data_root}/'
    opts = [f'val_dataloader.dataset.data_root={root}', f'test_dataloader.dataset.data_root={root}',
            f'val_evaluator.ann_file={root}annotations/val.json',
            f'test_evaluator.ann_file={root}annotations/test.json']
    if 'train' in keys:
        opts += [f'train_dataloader.dataset.data_root={root}', f'train_dataloader.dataset.ann_file={train_ann}']
    return opts


def best_checkpoint(work_dir: Path) -> Path:
    found = sorted(work_dir.glob('best_coco_bbox_mAP_iter_*.pth'))
    if not found:
        sys.exit(f'{work_dir}: no best checkpoint was saved')
    return found[-1]


def train_stage(name: str, cfg: Path, opts: list[str], out: Path) -> tuple[Path, float]:
    work = out / name
    done = work / 'stage_done.json'
    if done.is_file():
        return Path(json.loads(done.read_text())['checkpoint']), json.loads(done.read_text())['seconds']
    work.mkdir(parents=True, exist_ok=True)
    seconds = run([sys.executable, 'tools/train.py', str(cfg), '--work-dir', str(work), '--cfg-options', *opts],
                  work / 'train.log')
    ckpt = best_checkpoint(work)
    done.write_text(json.dumps(dict(checkpoint=str(ckpt), seconds=seconds)))
    return ckpt, seconds


def test_stage(name: str, cfg: Path, ckpt: Path, opts: list[str], out: Path) -> dict:
    work = out / name / 'test'
    result = work / 'metrics.json'
    if result.is_file():
        return json.loads(result.read_text())
    work.mkdir(parents=True, exist_ok=True)
    run([sys.executable, 'tools/test.py', str(cfg), str(ckpt), '--work-dir', str(work), '--cfg-options', *opts],
        work / 'test.log')
    metrics = json.loads(sorted(work.glob('*/*.json'))[-1].read_text())
    result.write_text(json.dumps(metrics))
    return metrics


def main(argv=None) -> None:
    args = parse_args(argv)
    out = (REPO / args.work_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    data_root = out / 'fish4knowledge-mini-coco'
    if not (data_root / 'annotations' / 'test.json').is_file():
        run([sys.executable, 'tools/convert_dataset.py', 'data/fish4knowledge-mini', '--format', 'yolo',
             '--out', str(data_root), '--overwrite'], out / 'convert.log')
    train_ann = f'annotations/train_{args.num_real}_seed{args.seed}.json'
    if not (data_root / train_ann).is_file():
        run([sys.executable, 'tools/make_subset.py', str(data_root / 'annotations' / 'train.json'),
             '--num-images', str(args.num_real), '--seed', str(args.seed), '--out', str(data_root / train_ann)],
            out / 'subset.log')

    common = schedule_options(args.iters) + [f'randomness.seed={args.seed}']
    real_cfg = DEMO_CFGS / 'fcos_r18_real-only_fish4knowledge-mini.py'
    pre_cfg = DEMO_CFGS / 'fcos_r18_synthetic-pretrain_fish4knowledge-mini.py'
    fin_cfg = DEMO_CFGS / 'fcos_r18_real-finetune_fish4knowledge-mini.py'
    real_opts = common + data_options(data_root, train_ann)
    synthetic_root = out / f'synthetic_copy-paste_{args.num_real}_seed{args.seed}'
    real_ann_path = str(data_root / train_ann)
    pre_opts = common + data_options(data_root, train_ann, keys=('val', 'test')) + [
        f'train_dataloader.dataset.data_root={synthetic_root}/',
        f'train_dataloader.dataset.generation.num_images={args.num_synthetic}',
        f'train_dataloader.dataset.generation.seed={args.seed}',
        f'train_dataloader.dataset.generation.layout.ann_file={real_ann_path}',
        f'train_dataloader.dataset.generation.generator.ann_file={real_ann_path}',
        f'train_dataloader.dataset.generation.generator.img_root={data_root}/']

    rows = []
    ckpt, secs = train_stage('real-only', real_cfg, real_opts, out)
    rows.append(dict(arm='real-only', train_seconds=secs, **test_stage('real-only', real_cfg, ckpt, real_opts, out)))
    pre_ckpt, pre_secs = train_stage('synthetic-pretrain', pre_cfg, pre_opts, out)
    fin_opts = real_opts + [f'load_from={pre_ckpt}']
    ckpt, secs = train_stage('real-finetune', fin_cfg, fin_opts, out)
    rows.append(dict(arm='copy-paste pretrain + finetune', train_seconds=pre_secs + secs,
                     **test_stage('real-finetune', fin_cfg, ckpt, fin_opts, out)))

    with open(out / 'results.csv', 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=['arm', 'num_real', 'iters', 'train_seconds', *METRICS])
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k) for k in writer.fieldnames} | dict(num_real=args.num_real, iters=args.iters))
    print(f'\nFish4Knowledge-mini, N={args.num_real} real images, {args.iters} iterations per stage, '
          f'real test split ({out}/results.csv)')
    print(f"{'arm':34s} {'mAP':>6s} {'mAP50':>6s} {'mAP_s':>6s} {'train s':>8s}")
    for row in rows:
        print(f"{row['arm']:34s} " + ' '.join(f'{row[m]:6.3f}' for m in METRICS) + f" {row['train_seconds']:8.0f}")
    print(f'demo: {len(rows)} arms evaluated on the real test split; results in {out}/results.csv')


if __name__ == '__main__':
    main()
