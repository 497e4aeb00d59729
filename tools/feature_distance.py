"""Score a synthetic set by how far each image's backbone features lie from the real images' (FID-style

The command lives in ``mmgen_det/cli/feature_distance.py``; installed, it is also ``mmgen-det-feature-distance`` and
``python -m mmgen_det.cli.feature_distance``. ``python tools/feature_distance.py --help`` lists its options.
"""
from mmgen_det.cli.feature_distance import main

if __name__ == '__main__':
    main()
