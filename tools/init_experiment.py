"""Write an experiment folder for your dataset: configs derived from the data, nothing written by hand.

The command lives in ``mmgen_det/cli/init_experiment.py``; installed, it is also ``mmgen-det-init`` and
``python -m mmgen_det.cli.init_experiment``. ``python tools/init_experiment.py --help`` lists its options.
"""
from mmgen_det.cli.init_experiment import main

if __name__ == '__main__':
    main()
