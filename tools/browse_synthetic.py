"""Draw a sample of a synthetic (or any COCO) set with its boxes into one grid PNG.

    python tools/browse_synthetic.py SYNTH_DIR --out grid.png [--num 16] [--cols 4] [--seed 0]
    python tools/browse_synthetic.py DATA_DIR --ann annotations/train.json --out real.png
"""
from __future__ import annotations

import argparse

import numpy as np

from mmgen_det.utils.io import atomic_write, read_json
from mmgen_det.visualization import coco_grid


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Grid PNG of images with their boxes drawn')
    parser.add_argument('root', help='set folder (file names in the annotations are relative to it)')
    parser.add_argument('--ann', default='annotations.json', help='annotation file, relative to root')
    parser.add_argument('--out', required=True, help='PNG to write')
    parser.add_argument('--num', type=int, default=16, help='number of images to draw')
    parser.add_argument('--cols', type=int, default=4)
    parser.add_argument('--tile', type=int, default=320, help='tile width in pixels')
    parser.add_argument('--seed', type=int, default=0, help='which images are sampled')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    coco = read_json(f'{args.root}/{args.ann}')
    ids = sorted(im['id'] for im in coco['images'])
    if not ids:
        raise SystemExit(f'{args.root}/{args.ann}: no images to draw')
    rng = np.random.default_rng(args.seed)
    chosen = sorted(rng.choice(ids, size=min(args.num, len(ids)), replace=False).tolist())
    grid = coco_grid(coco, args.root, chosen, cols=args.cols, tile=args.tile)
    with atomic_write(args.out) as f:
        grid.save(f, format='PNG')
    print(f'browse_synthetic: drew {len(chosen)} of {len(ids)} images into {args.out}')


if __name__ == '__main__':
    main()
