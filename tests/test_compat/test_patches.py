"""The compatibility patches are listed once (mmgen_det.compat.PATCHES, pointed to by the registry's
docstring), each with where upstream tracks it, and applying them again changes nothing."""
from __future__ import annotations

import mmgen_det  # noqa: F401  applies the patches
from mmgen_det import compat, registry


def test_every_patch_is_listed_with_its_upstream():
    names = [p.name for p in compat.PATCHES]
    assert len(names) == len(set(names))
    assert all(p.upstream.startswith('https://github.com/open-mmlab/') and p.does for p in compat.PATCHES)
    assert 'mmgen_det.compat.PATCHES' in registry.__doc__


def test_applying_again_changes_nothing():
    from mmengine.dist import utils as dist_utils
    from mmengine.model import MMDistributedDataParallel
    from mmengine.runner.checkpoint import CheckpointLoader
    registry.register_all_modules()  # applied once, whatever imported the package first
    before = (dist_utils._init_dist_pytorch, MMDistributedDataParallel.__init__,
              dict(CheckpointLoader._schemes))
    compat.apply_all()
    registry.register_all_modules()
    assert (dist_utils._init_dist_pytorch, MMDistributedDataParallel.__init__,
            dict(CheckpointLoader._schemes)) == before
