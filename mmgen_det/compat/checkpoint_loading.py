"""Let torch >= 2.6's weights-only ``torch.load`` read full mmengine checkpoints.

Why: torch 2.6 made ``torch.load(..., weights_only=True)`` the default. mmengine 0.10.7 calls
``torch.load`` without ``weights_only``, so ``load_from``/``resume`` of any checkpoint that holds more
than tensors (message hub, history buffers, numpy scalars) fails with ``UnpicklingError: Unsupported
global``. Turning ``weights_only`` off would let a downloaded checkpoint run arbitrary code, so instead
the exact types mmengine checkpoints contain are allow-listed with ``torch.serialization.add_safe_globals``;
anything else is still refused.

A refused checkpoint then fails with :class:`UnsafeCheckpointError`, which says what to do. Both are
applied by :func:`mmgen_det.compat.apply_all` (upstream: mmengine issue #1655). Remove when mmengine
passes ``weights_only`` itself and registers its own types (mmengine > 0.10.7).
"""
from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import torch


def _numpy_globals() -> list:
    """numpy objects that appear in pickled scalars/arrays (log values, scheduler state)."""
    from numpy.core import multiarray  # numpy 2 keeps this alias for unpickling old paths
    found = [np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar]
    try:
        from numpy._core import multiarray as core_multiarray
        found += [core_multiarray._reconstruct, core_multiarray.scalar]
    except ImportError:
        pass
    # dtype classes such as numpy.dtypes.Float64DType are pickled by reference since numpy 1.25
    found += [type(np.dtype(t)) for t in (np.float16, np.float32, np.float64, np.int8, np.int16,
                                          np.int32, np.int64, np.uint8, np.bool_)]
    return found


def history_buffer_attribute(owner: Any, name: str) -> Any:
    """Stands in for ``getattr`` while unpickling, limited to HistoryBuffer's statistics methods.

    ``HistoryBuffer.__getstate__`` stores its statistics methods, which pickle as
    ``getattr(HistoryBuffer, 'mean')``; allowing ``getattr`` itself would let a crafted pickle reach
    any attribute of any allowed object (the classic way out of a restricted unpickler).
    """
    from mmengine.logging import HistoryBuffer
    if owner is HistoryBuffer and isinstance(name, str) and callable(getattr(HistoryBuffer, name, None)) \
            and not name.startswith('_'):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(f'getattr({owner!r}, {name!r}) is not allowed in a checkpoint')


def _mmengine_globals() -> list:
    """mmengine classes stored in a checkpoint's ``message_hub`` state."""
    from mmengine.logging import HistoryBuffer
    return [HistoryBuffer, (history_buffer_attribute, 'builtins.getattr')]


def allow_mmengine_checkpoint_types() -> None:
    """Add the types mmengine checkpoints hold to torch's weights-only allow-list."""
    torch.serialization.add_safe_globals(_numpy_globals() + _mmengine_globals())


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint holds objects outside the allow-list: unpickling it could execute code."""


def _load_from_local_refusing_code(filename: str, map_location=None):
    """mmengine's local loader, passing ``weights_only=True`` itself (not relying on torch's default,
    which older torch has False), with torch's refusal turned into an error that says what to do."""
    import os
    filename = os.path.expanduser(filename)
    if not os.path.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise UnsafeCheckpointError(
            f'{filename}: refused to load. It contains objects that are not on the allow-list of '
            f'types mmengine checkpoints hold, and unpickling them could execute code ({e}). '
            'If you made this file yourself and trust it, re-save its state_dict with torch.save; '
            'never load checkpoints of unknown origin with weights_only=False.') from None


def refuse_code_in_local_checkpoints() -> None:
    """Route mmengine's local-file scheme through :func:`_load_from_local_refusing_code`."""
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(prefixes='', loader=_load_from_local_refusing_code, force=True)
