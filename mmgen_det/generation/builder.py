"""Build a generator from a plain config dict: ``dict(type='gligen' | 'copy_paste', **kwargs)``.

``type='gligen'`` takes ``background='none'`` (default: whole images, text-to-image GLIGEN) or
``background='inpaint'`` (objects generated into real, emptied frames; an inpainting GLIGEN).

A dict lookup rather than an mmengine registry, so the generation stage needs no OpenMMLab install.
Imports are lazy: the copy-paste generator never imports diffusers.
"""
from __future__ import annotations

from typing import Any

from .base import BaseGenerator

GENERATOR_TYPES = ('gligen', 'copy_paste')
GLIGEN_BACKGROUNDS = ('none', 'inpaint')


def build_generator(cfg: dict[str, Any]) -> BaseGenerator:
    cfg = dict(cfg)
    kind = cfg.pop('type', None)
    if kind == 'copy_paste':
        from .copy_paste import CopyPasteGenerator
        return CopyPasteGenerator(**cfg)
    if kind == 'gligen':
        background = cfg.pop('background', 'none')
        if background not in GLIGEN_BACKGROUNDS:
            raise ValueError(f'gligen background must be one of {GLIGEN_BACKGROUNDS}, got {background!r}')
        crops = cfg.pop('crops', None)
        if crops is not None:
            from .crops import ObjectCropBank
            cfg['crop_bank'] = ObjectCropBank.from_coco(**crops)
        if background == 'inpaint':
            from .gligen_inpaint import GLIGENInpaintGenerator
            return GLIGENInpaintGenerator(**cfg)
        from .gligen import GLIGENGenerator
        return GLIGENGenerator(**cfg)
    raise ValueError(f'generator type must be one of {GENERATOR_TYPES}, got {kind!r}')


def generator_settings(cfg: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """What of a generator config determines the images, known without building it: its type, its
    class's ``version`` and :meth:`~.BaseGenerator.pixel_settings`; and, apart, the class's
    :meth:`~.BaseGenerator.placement` on this machine."""
    cfg = dict(cfg)
    kind = cfg.pop('type', None)
    if kind == 'copy_paste':
        from .copy_paste import CopyPasteGenerator as generator_class
    elif kind == 'gligen':
        from .gligen import GLIGENGenerator as generator_class
    else:
        raise ValueError(f'generator type must be one of {GENERATOR_TYPES}, got {kind!r}')
    settings = dict(type=kind, version=generator_class.version, **generator_class.pixel_settings(cfg))
    return settings, generator_class.placement(cfg)
