"""The package's commands. Each module is a script with ``main(argv=None)``, installed as a console
script (``setup.py``'s ``COMMANDS``), runnable as ``python -m mmgen_det.cli.<module>`` and, in a checkout,
as ``python tools/<module>.py``. What they share, their parser and console, is ``command.py``; each imports
its heavy dependencies after parsing (``benchmarks/bench_cli_startup.py`` times their ``--help``)."""
