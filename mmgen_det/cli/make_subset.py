"""Take a seeded subset of N images from a COCO file (nested: same seed, smaller N -> a subset).

All categories are kept and file_names are unchanged, so the subset uses the same data_root.
"""
import argparse
import sys

from mmgen_det.utils.command_line import ArgumentParser, positive_int


def parse_args(argv=None) -> argparse.Namespace:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument('ann', help='COCO annotation file to draw from')
    parser.add_argument('--num-images', type=positive_int, required=True, help='subset size N')
    parser.add_argument('--seed', type=int, required=True, help='seed of the image ordering')
    parser.add_argument('--out', required=True, help='output COCO json')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    from mmgen_det.datasets.formats import DatasetFormatError, boxes_per_class, load_coco
    from mmgen_det.datasets.subsets import make_subset
    from mmgen_det.utils.io import atomic_write_json
    try:
        coco = load_coco(args.ann)
        subset = make_subset(coco, args.num_images, args.seed, source=args.ann)
    except (DatasetFormatError, OSError, ValueError) as e:
        sys.exit(f'error: {e}')
    full, per_class = boxes_per_class(coco), boxes_per_class(subset)
    missing = [name for name, n in per_class.items() if n == 0 and full[name] > 0]
    print(f'{args.num_images} images of {len(coco["images"])}, '
          f'{len(subset["annotations"])} boxes')
    print('boxes per class: ' + ', '.join(f'{name!r}: {n}' for name, n in per_class.items()))
    if missing:
        print(f'classes missing (N too small to cover them): {missing}')
    atomic_write_json(args.out, subset)
    present = sum(n > 0 for n in per_class.values())
    print(f'Wrote {args.out}: {args.num_images} images, {len(subset["annotations"])} boxes, '
          f'{present}/{len(per_class)} classes (seed {args.seed}, subset of {args.ann})')


if __name__ == '__main__':
    main()
