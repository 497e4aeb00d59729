"""Evaluate a checkpoint: mmdet's stock ``tools/test.py`` with mmgen_det registered.

The command lives in ``mmgen_det/cli/test.py``; installed, it is also ``mmgen-det-test`` and
``python -m mmgen_det.cli.test``. ``python tools/test.py --help`` lists its options.
"""
from mmgen_det.cli.test import main

if __name__ == '__main__':
    main()
