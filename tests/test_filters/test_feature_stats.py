"""Feature-distance statistics: a real-like vector is near, an outlier is far, shapes are checked."""
from __future__ import annotations

import numpy as np
import pytest

from mmgen_det.filters.feature_distance import feature_distance, fit_stats


def test_inliers_near_outliers_far():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(200, 16))
    stats = fit_stats(real)
    inlier = feature_distance(rng.normal(size=(50, 16)), stats)
    outlier = feature_distance(rng.normal(size=(50, 16)) + 3.0, stats)
    assert 0.7 < inlier.mean() < 1.3  # normalised by the dimension: about 1 for a typical real vector
    assert outlier.min() > inlier.max()


def test_mean_has_distance_zero_and_few_references_still_invert():
    real = np.random.default_rng(1).normal(size=(5, 64))  # 5 images, 64-d: singular covariance
    stats = fit_stats(real, shrinkage=0.1)
    assert feature_distance(real.mean(0), stats)[0] == pytest.approx(0.0, abs=1e-9)
    assert np.isfinite(feature_distance(real, stats)).all()


def test_bad_inputs():
    with pytest.raises(ValueError, match='at least 2'):
        fit_stats(np.zeros((1, 4)))
    with pytest.raises(ValueError, match='shrinkage'):
        fit_stats(np.zeros((3, 4)), shrinkage=0.0)
