"""Experiments: the whole protocol (real subsets, generation, filtering, pretrain, finetune, test) as a
cached sweep over N real images x arms x seeds, and its report.

``config``  the experiment config schema, validated   ``cache``   stage keys and records
``stages``  the work of each stage and the mmdet configs it runs   ``runner``  the sweep
``plan``    counts and compute estimates of a dry run   ``results``  result rows and output files
``report``  results.csv, report.md, plots, equivalent number of real images
"""
from .config import ARMS, Experiment, ExperimentConfigError, load_experiment, validate

__all__ = ['ARMS', 'Experiment', 'ExperimentConfigError', 'load_experiment', 'validate']
