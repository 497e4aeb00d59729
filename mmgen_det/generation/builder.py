"""Build a generator from a plain config dict: ``dict(type='gligen' | 'copy_paste', **kwargs)``.

A dict lookup rather than an mmengine registry, so the generation stage needs no OpenMMLab install.
Imports are lazy: the copy-paste generator never imports diffusers.
"""
from __future__ import annotations

from typing import Any

from .base import BaseGenerator

GENERATOR_TYPES = ('gligen', 'copy_paste')


def build_generator(cfg: dict[str, Any]) -> BaseGenerator:
    cfg = dict(cfg)
    kind = cfg.pop('type', None)
    if kind == 'copy_paste':
        from .copy_paste import CopyPasteGenerator
        return CopyPasteGenerator(**cfg)
    if kind == 'gligen':
        from .gligen import GLIGENGenerator
        crops = cfg.pop('crops', None)
        if crops is not None:
            from .crops import ObjectCropBank
            cfg['crop_bank'] = ObjectCropBank.from_coco(**crops)
        return GLIGENGenerator(**cfg)
    raise ValueError(f'generator type must be one of {GENERATOR_TYPES}, got {kind!r}')
