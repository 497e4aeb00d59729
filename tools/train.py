"""Train a detector: mmdet's stock ``tools/train.py`` with mmgen_det registered.

The command lives in ``mmgen_det/cli/train.py``; installed, it is also ``mmgen-det-train`` and
``python -m mmgen_det.cli.train``. ``python tools/train.py --help`` lists its options.
"""
from mmgen_det.cli.train import main

if __name__ == '__main__':
    main()
