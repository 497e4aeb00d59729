"""Look at a synthetic (or any COCO) set: a grid PNG of a sample, or a static HTML gallery of all of it.

    python tools/browse_synthetic.py SYNTH_DIR --out grid.png [--num 16] [--cols 4] [--seed 0]
    python tools/browse_synthetic.py DATA_DIR --ann annotations/train.json --out real.png
    python tools/browse_synthetic.py SYNTH_DIR --html OUT_DIR [--real ANN_JSON [--real-root DIR]] [--workers 2]

The gallery (``OUT_DIR/index.html``, opens from file://) shows every image with its layout boxes, the
filter detector's found/missed boxes and stored scores, and a threshold control that prints the
``SyntheticDetDataset`` ``filter_cfg`` keeping the images it shows as kept.
"""
from __future__ import annotations

import argparse

from mmgen_det.utils.command_line import ArgumentParser, positive_int


def parse_args(argv=None) -> argparse.Namespace:
    parser = ArgumentParser(description='Grid PNG of images with their boxes drawn, or an HTML gallery')
    parser.add_argument('root', help='set folder (file names in the annotations are relative to it)')
    out = parser.add_mutually_exclusive_group(required=True)
    out.add_argument('--out', help='PNG to write (a sample of the images)')
    out.add_argument('--html', metavar='OUT_DIR', help='folder to write the HTML gallery of the whole set into')
    parser.add_argument('--ann', default='annotations.json', help='annotation file, relative to root (grid)')
    parser.add_argument('--num', type=positive_int, default=16, help='number of images to draw (grid)')
    parser.add_argument('--cols', type=positive_int, default=4)
    parser.add_argument('--tile', type=positive_int, default=320, help='tile width in pixels (grid)')
    parser.add_argument('--seed', type=int, default=0, help='which images are sampled (grid)')
    parser.add_argument('--real', metavar='ANN_JSON',
                        help='real COCO annotations to compare with (gallery; default: the layouts\' source '
                             'recorded in generation_config.json)')
    parser.add_argument('--real-root', help='folder the real file names are relative to (gallery; default: the '
                                            "generator's image root, else the folder holding annotations/)")
    parser.add_argument('--workers', type=positive_int, default=2, help='processes making thumbnails (gallery)')
    return parser.parse_args(argv)


def write_grid(args: argparse.Namespace) -> None:
    import numpy as np

    from mmgen_det.utils.io import atomic_write, read_json
    from mmgen_det.visualization import coco_grid
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


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.out:
        write_grid(args)
        return
    from mmgen_det.visualization.gallery import build_gallery
    summary = build_gallery(args.root, args.html, args.real, args.real_root, workers=args.workers)
    print(f'browse_synthetic: {summary.line()}')


if __name__ == '__main__':
    main()
