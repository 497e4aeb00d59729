"""Convert a YOLO / Pascal VOC / COCO detection dataset, as labelling tools export it, to checked COCO.

The command lives in ``mmgen_det/cli/convert_dataset.py``; installed, it is also ``mmgen-det-convert`` and
``python -m mmgen_det.cli.convert_dataset``. ``python tools/convert_dataset.py --help`` lists its options.
"""
from mmgen_det.cli.convert_dataset import main

if __name__ == '__main__':
    main()
