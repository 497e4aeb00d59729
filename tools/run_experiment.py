"""Run an experiment: N real images x arms x seeds, every stage cached by its inputs.

The command lives in ``mmgen_det/cli/run_experiment.py``; installed, it is also ``mmgen-det-run`` and
``python -m mmgen_det.cli.run_experiment``. ``python tools/run_experiment.py --help`` lists its options.
"""
from mmgen_det.cli.run_experiment import main

if __name__ == '__main__':
    main()
