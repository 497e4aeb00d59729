"""The package version, in one place: ``mmgen_det.__version__`` and ``setup.py`` read it from here."""
__version__ = '0.1.0'
