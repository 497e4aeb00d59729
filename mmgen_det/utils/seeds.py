"""Per-image seeds as a pure function of (global seed, image index, attempt).

Deriving each image's seed from a hash, never from a running generator, makes a synthetic set the
same whatever the batch size, the number of ranks, or how often the run was interrupted.
"""
from __future__ import annotations

import hashlib

import numpy as np


def derive_seed(global_seed: int, index: int, attempt: int = 0, purpose: str = 'image') -> int:
    """A 63-bit seed for image ``index``; ``attempt`` > 0 gives the seeds used to regenerate it.

    ``purpose`` separates independent streams (e.g. 'layout' vs 'image') drawn for the same index.
    """
    key = f'{purpose}:{int(global_seed)}:{int(index)}:{int(attempt)}'.encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], 'little') >> 1


def rng_for(global_seed: int, index: int, purpose: str) -> np.random.Generator:
    """A numpy generator owned by one (seed, index, purpose): no shared global random state."""
    return np.random.default_rng(derive_seed(global_seed, index, 0, purpose))
