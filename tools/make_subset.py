"""Take a seeded subset of N images from a COCO file (nested: same seed, smaller N -> a subset).

The command lives in ``mmgen_det/cli/make_subset.py``; installed, it is also ``mmgen-det-subset`` and
``python -m mmgen_det.cli.make_subset``. ``python tools/make_subset.py --help`` lists its options.
"""
from mmgen_det.cli.make_subset import main

if __name__ == '__main__':
    main()
