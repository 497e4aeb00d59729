"""Precision/recall of a scored set at a glance: scatter plus the two histograms, saved as a PNG.

In: per-image precision and recall (and optional thresholds to draw). Out: one PNG file. A useful
filter spreads images over the square; a pile at (1, 1) or at (0, 0) means it cannot tell them apart.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..utils.io import atomic_write


def save_pr_plot(precisions: Sequence[float], recalls: Sequence[float], path: str | Path, title: str = '',
                 min_precision: float | None = None, min_recall: float | None = None) -> Path:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    p, r = np.asarray(precisions, dtype=float), np.asarray(recalls, dtype=float)
    fig, (ax_s, ax_p, ax_r) = plt.subplots(1, 3, figsize=(13, 4))
    # jitter only the drawing: many images share exact fractions such as (1, 0.5)
    rng = np.random.default_rng(0)
    jitter = lambda v: v + rng.uniform(-0.01, 0.01, size=v.shape)  # noqa: E731
    ax_s.scatter(jitter(r), jitter(p), s=8, alpha=0.5)
    ax_s.set(xlabel='recall', ylabel='precision', xlim=(-0.05, 1.05), ylim=(-0.05, 1.05),
             title=f'{len(p)} images (jittered)')
    if min_recall is not None:
        ax_s.axvline(min_recall, color='r', ls='--')
    if min_precision is not None:
        ax_s.axhline(min_precision, color='r', ls='--')
    bins = np.linspace(0, 1, 21)
    ax_p.hist(p, bins=bins)
    ax_p.set(xlabel='precision', ylabel='images')
    ax_r.hist(r, bins=bins)
    ax_r.set(xlabel='recall', ylabel='images')
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    with atomic_write(path) as f:
        fig.savefig(f, format='png', dpi=100)
    plt.close(fig)
    return path
