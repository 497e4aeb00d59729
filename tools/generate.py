"""Generate a synthetic set from a config, without training; resumable.

The command lives in ``mmgen_det/cli/generate.py``; installed, it is also ``mmgen-det-generate`` and
``python -m mmgen_det.cli.generate``. ``python tools/generate.py --help`` lists its options.
"""
from mmgen_det.cli.generate import main

if __name__ == '__main__':
    main()
