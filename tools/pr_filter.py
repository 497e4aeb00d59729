"""Score a synthetic set with a filter detector; store the scores; show how many images survive.

The command lives in ``mmgen_det/cli/pr_filter.py``; installed, it is also ``mmgen-det-pr-filter`` and
``python -m mmgen_det.cli.pr_filter``. ``python tools/pr_filter.py --help`` lists its options.
"""
from mmgen_det.cli.pr_filter import main

if __name__ == '__main__':
    main()
