"""Convert a YOLO / Pascal VOC / COCO detection dataset to checked COCO.

Writes ``OUT/annotations/<split>.json`` and ``OUT/images/<split>/`` (all or nothing), for mmdet's
``data_root=OUT, ann_file='annotations/<split>.json', data_prefix=dict(img='')``.
"""
import argparse
import sys

from mmgen_det.datasets.formats import (FORMATS, IMAGE_MODES, ON_INVALID, DatasetFormatError,
                                        convert_dataset, split_summary)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='YOLO data.yaml or its folder; VOC folder; COCO json or folder')
    parser.add_argument('--format', required=True, choices=FORMATS, help='format of SRC')
    parser.add_argument('--out', required=True, help='output folder (must not exist or be empty)')
    parser.add_argument('--on-invalid', default='clip', choices=ON_INVALID,
                        help='boxes outside the image or empty: clip to the image and drop the '
                             'empty ones (default), drop them, or fail')
    parser.add_argument('--image-mode', default='copy', choices=IMAGE_MODES,
                        help='copy the images (default) or symlink them into OUT/images')
    parser.add_argument('--split-name', default=None,
                        help='VOC without ImageSets/Main: split name (default: train); '
                             'COCO single json: split name (default: from the file name)')
    parser.add_argument('--image-root', default=None,
                        help='COCO: folder the file_names are relative to (default: the json '
                             'folder, or its parent)')
    parser.add_argument('--overwrite', action='store_true', help='replace a non-empty OUT')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    try:
        splits = convert_dataset(args.src, args.format, args.out, on_invalid=args.on_invalid,
                                 image_mode=args.image_mode, overwrite=args.overwrite,
                                 split_name=args.split_name, image_root=args.image_root)
    except (DatasetFormatError, OSError, ValueError) as e:
        sys.exit(f'\nerror: {e}')  # \n ends a progress line cut short
    for split in splits:
        print(split_summary(split))
    images = sum(len(s.coco['images']) for s in splits)
    boxes = sum(len(s.coco['annotations']) for s in splits)
    problems = sum(sum(s.problems.values()) for s in splits)
    print(f'Converted {args.format} {args.src} -> {args.out}: {len(splits)} splits '
          f'({", ".join(s.name for s in splits)}), {images} images, {boxes} boxes, '
          f'{len(splits[0].coco["categories"])} categories, {problems} problems fixed or reported')


if __name__ == '__main__':
    main()
