"""Look at a synthetic (or any COCO) set: a grid PNG of a sample, or a static HTML gallery of all of it.

The command lives in ``mmgen_det/cli/browse_synthetic.py``; installed, it is also ``mmgen-det-browse`` and
``python -m mmgen_det.cli.browse_synthetic``. ``python tools/browse_synthetic.py --help`` lists its options.
"""
from mmgen_det.cli.browse_synthetic import main

if __name__ == '__main__':
    main()
