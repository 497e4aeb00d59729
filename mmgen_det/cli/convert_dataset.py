"""Convert a YOLO / Pascal VOC / COCO detection dataset, as labelling tools export it, to checked COCO.

The format is detected from SRC unless --format says it (auto: a .json or a folder of COCO jsons is
COCO; a .yaml, a folder with a yaml holding names:, images/ + labels/ or images with .txt labels
beside them is YOLO; folders of <annotation> XML are VOC). Accepted layouts:

  YOLO  the yaml (any name; other machines' absolute split paths fall back to the folders beside it)
        or its folder; images/ + labels/ (flat, or images/train ...), <split>/images + <split>/labels,
        images with .txt beside them. Names from the yaml, --classes, or classes.txt / obj.names.
        A folder without splits is the single split `train`. Polygon lines become their boxes.
  VOC   XML + images in any folder pair found up to 3 levels down (Annotations/ + JPEGImages/,
        annots/ + imgs/, the same folder, Roboflow's train/ valid/ test/), or --ann-dir/--img-dir;
        ImageSets/Main/<split>.txt if present. A wrong <filename> falls back to the XML's name.
  COCO  a json, or a folder of one json per split (train.json, instances_val2017.json,
        train/_annotations.coco.json ...).

Images are checked with the decoder training uses (OpenCV): one only PIL objects to is kept with a
warning, one OpenCV cannot decode fails the conversion (or is left out with its boxes under
--on-bad-image skip). Splits must not share images. Every record is accounted for: label files
without their image, a label folder without its image folder, two folders of one split and two
images for one output file are refused, each in one message; images without a label file (YOLO) or
without an XML (VOC) are counted. Class names must be one line of text (an unquoted YAML yes/null
is refused). Every file read (images, labels, class names, lists, yaml, XML, json), links followed,
must stay inside the dataset folder unless --allow-outside-root.

Writes ``OUT/annotations/<split>.json``, ``OUT/images/<split>/`` and ``OUT/conversion_report.json``
(all or nothing), for mmdet's ``data_root=OUT, ann_file='annotations/<split>.json',
data_prefix=dict(img='')``; prints a warning per path fallback and per image kept with a warning or
skipped, and one line per split (images, boxes per class, problems fixed). Exits non-zero with the
file, the record and the fix on bad input.
"""
import argparse
import sys
from pathlib import Path

from mmgen_det.utils.command_line import ArgumentParser, class_names


def parse_args(argv=None) -> argparse.Namespace:
    # the choices' home imports OpenCV and mmcv (torch), so --help here takes the time those take
    from mmgen_det.datasets.formats import FORMAT_CHOICES, IMAGE_MODES, ON_BAD_IMAGE, ON_INVALID, REPORT
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='dataset folder, YOLO yaml or COCO json')
    parser.add_argument('--format', default='auto', choices=FORMAT_CHOICES,
                        help='format of SRC (default: auto, detected from the files)')
    parser.add_argument('--out', required=True, help='output folder (must not exist or be empty)')
    parser.add_argument('--classes', default=None, type=class_names,
                        help="YOLO without names in a yaml or classes.txt: the class names in index "
                             "order, comma-separated, e.g. 'rainbow trout,pike'")
    parser.add_argument('--ann-dir', default=None,
                        help='VOC: the folder of XML files (default: found under SRC)')
    parser.add_argument('--img-dir', default=None,
                        help='VOC: the folder of images (default: beside or in the XML folder)')
    parser.add_argument('--on-invalid', default='clip', choices=ON_INVALID,
                        help='boxes outside the image or empty: clip to the image and drop the '
                             'empty ones (default), drop them, or fail')
    parser.add_argument('--on-bad-image', default='fail', choices=ON_BAD_IMAGE,
                        help='an image OpenCV (which training uses) cannot decode: fail naming it '
                             '(default), or skip it and its boxes (counted in the report)')
    parser.add_argument('--allow-outside-root', action='store_true',
                        help='read files (images, labels, class names, lists) that paths or '
                             'links in the dataset put outside its folder (refused by default)')
    parser.add_argument('--image-mode', default='copy', choices=IMAGE_MODES,
                        help='copy the images (default) or symlink them into OUT/images')
    parser.add_argument('--split-name', default=None,
                        help='YOLO folder without splits, VOC without ImageSets/Main: split name '
                             '(default: train); COCO single json: split name (default: from the '
                             'file name)')
    parser.add_argument('--image-root', default=None,
                        help='COCO: folder the file_names are relative to (default: the json '
                             'folder, its parent, or an images/ folder beside either)')
    parser.add_argument('--overwrite', action='store_true',
                        help=f'replace a non-empty OUT written by this converter (with its {REPORT})')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    from mmgen_det.datasets.formats import REPORT, DatasetFormatError, convert_dataset, resolve_format, split_summary
    try:
        fmt = resolve_format(args.src, args.format, args.ann_dir, args.img_dir)
        splits = convert_dataset(args.src, fmt, args.out, on_invalid=args.on_invalid,
                                 image_mode=args.image_mode, overwrite=args.overwrite,
                                 split_name=args.split_name, image_root=args.image_root,
                                 classes=args.classes, ann_dir=args.ann_dir, img_dir=args.img_dir,
                                 on_bad_image=args.on_bad_image,
                                 allow_outside_root=args.allow_outside_root)
    except (DatasetFormatError, OSError, ValueError) as e:
        sys.exit(f'error: {e}')
    for split in splits:
        print(split_summary(split))
    images = sum(len(s.coco['images']) for s in splits)
    boxes = sum(len(s.coco['annotations']) for s in splits)
    problems = sum(sum(s.problems.values()) for s in splits)
    print(f'Converted {fmt} {args.src} -> {args.out}: {len(splits)} splits '
          f'({", ".join(s.name for s in splits)}), {images} images, {boxes} boxes, '
          f'{len(splits[0].coco["categories"])} categories, {problems} problems fixed or reported '
          f'(see {Path(args.out) / REPORT})')


if __name__ == '__main__':
    main()
