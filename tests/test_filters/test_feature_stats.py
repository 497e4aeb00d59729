"""Feature-distance statistics: a real-like vector is near, an outlier is far, shapes are checked; the
scores of two settings are stored side by side."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmgen_det.filters.feature_distance import (FEATURE_DISTANCE_KEY, feature_distance, feature_key, fit_stats,
                                                score_set_feature_distance)


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


class MeanColourExtractor:
    """Stand-in for FeatureExtractor: an image's features are its mean colour per quadrant."""

    def __init__(self, input_size=(320, 192)) -> None:
        self.identity = dict(config=dict(type='stub'), checkpoint='stub.pth', sha256='f' * 64, prefix=None,
                             input_size=list(input_size))

    def __call__(self, images):
        return np.stack([np.concatenate([q.reshape(-1, 3).mean(0) for half in np.array_split(img, 2)
                                         for q in np.array_split(half, 2, axis=1)]) for img in images])


def write_images_set(root: Path, count: int, seed: int) -> Path:
    """``count`` random 16x16 PNGs with one box each, as a COCO file ``root/annotations.json``."""
    rng = np.random.default_rng(seed)
    images, anns = [], []
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(root / f'{i}.png')
        images.append(dict(id=i, file_name=f'{i}.png', width=16, height=16))
        anns.append(dict(id=i + 1, image_id=i, category_id=1, bbox=[2, 2, 8, 8], area=64, iscrowd=0))
    path = root / 'annotations.json'
    path.write_text(json.dumps(dict(images=images, annotations=anns, categories=[dict(id=1, name='fish')])))
    return path


def test_scores_of_two_settings_coexist(tmp_path):
    """Another shrinkage or input size is another score, stored next to the first, never over it."""
    (tmp_path / 'real').mkdir()
    (tmp_path / 'set').mkdir()
    real_ann = write_images_set(tmp_path / 'real', 20, seed=0)
    write_images_set(tmp_path / 'set', 4, seed=1)
    runs = [(MeanColourExtractor(), 0.1), (MeanColourExtractor(), 0.9), (MeanColourExtractor((64, 64)), 0.1)]
    keys = [score_set_feature_distance(tmp_path / 'set', extractor, real_ann, tmp_path / 'real', shrinkage=shrinkage,
                                       progress=False)[0] for extractor, shrinkage in runs]
    assert len(set(keys)) == 3
    image = json.loads((tmp_path / 'set' / 'annotations.json').read_text())['images'][0]
    stored = image[FEATURE_DISTANCE_KEY]
    assert sorted(stored) == sorted(keys)
    assert [stored[k]['shrinkage'] for k in keys] == [0.1, 0.9, 0.1]
    assert stored[keys[0]]['distance'] != stored[keys[1]]['distance']


def test_key_covers_every_setting_that_changes_a_distance():
    """The checkpoint's path is no setting: the same weights elsewhere keep their key."""
    backbone = MeanColourExtractor().identity
    key = feature_key(backbone, 'e' * 64, 0.1)
    assert key == feature_key(dict(backbone, checkpoint='moved/stub.pth'), 'e' * 64, 0.1)
    others = [feature_key(dict(backbone, prefix='backbone.'), 'e' * 64, 0.1),
              feature_key(backbone, 'd' * 64, 0.1),
              feature_key(dict(backbone, sha256='0' * 64), 'e' * 64, 0.1)]
    assert len({key, *others}) == 4
