"""Build a generator from a plain config dict: ``dict(type='gligen' | 'copy_paste', **kwargs)``.

``type='gligen'`` takes ``background='none'`` (default: whole images, text-to-image GLIGEN) or
``background='inpaint'`` (objects generated into real, emptied frames; an inpainting GLIGEN).

A dict lookup rather than an mmengine registry, so the generation stage needs no OpenMMLab install.
Imports are lazy: the copy-paste generator never imports diffusers. A key that neither the builder
nor the generator class reads is an error (:func:`generator_class`), also where nothing is built yet.
"""
from __future__ import annotations

import inspect
from typing import Any

from ..utils.keys import check_keys
from .base import BaseGenerator

GENERATOR_TYPES = ('gligen', 'copy_paste')
GLIGEN_BACKGROUNDS = ('none', 'inpaint')
#: keys read besides the generator class's arguments, per type: by the builder, and the deprecated
#: ``batch_size`` by the synthetic set (:func:`.synthetic_set.one_batch_size`; GLIGEN's own argument)
BUILDER_KEYS = {'copy_paste': ('type', 'batch_size'), 'gligen': ('type', 'background', 'crops')}


def _arguments(cls: type) -> set[str]:
    """The keyword arguments ``cls(...)`` takes, through ``**kwargs`` handed on to its base classes."""
    names: set[str] = set()
    for klass in cls.__mro__:
        params = list(inspect.signature(klass.__init__).parameters.values())[1:]
        names |= {p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
        if all(p.kind != p.VAR_KEYWORD for p in params):
            break
    return names


def generator_class(cfg: dict[str, Any]) -> type[BaseGenerator]:
    """The class :func:`build_generator` makes of ``cfg``, once every key of ``cfg`` is known to it:
    a misspelt setting would otherwise go unnoticed until the model loads, or never."""
    kind = cfg.get('type')
    if kind == 'copy_paste':
        from .copy_paste import CopyPasteGenerator as cls
    elif kind == 'gligen':
        background = cfg.get('background', 'none')
        if background not in GLIGEN_BACKGROUNDS:
            raise ValueError(f'gligen background must be one of {GLIGEN_BACKGROUNDS}, got {background!r}')
        if background == 'inpaint':
            from .gligen_inpaint import GLIGENInpaintGenerator as cls
        else:
            from .gligen import GLIGENGenerator as cls
    else:
        raise ValueError(f'generator type must be one of {GENERATOR_TYPES}, got {kind!r}')
    check_keys(cfg, {*BUILDER_KEYS[kind], *_arguments(cls)}, f'generation.generator (type={kind!r})')
    return cls


def build_generator(cfg: dict[str, Any]) -> BaseGenerator:
    cfg = dict(cfg)
    cls = generator_class(cfg)
    if cfg.pop('type') == 'gligen':
        cfg.pop('background', None)
        crops = cfg.pop('crops', None)
        if crops is not None:
            from .crops import ObjectCropBank
            cfg['crop_bank'] = ObjectCropBank.from_coco(**crops)
    return cls(**cfg)


def generator_settings(cfg: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """What of a generator config determines the images, known without building it: its type, its
    class's ``version`` and :meth:`~.BaseGenerator.pixel_settings`; and, apart, the class's
    :meth:`~.BaseGenerator.placement` on this machine."""
    cls = generator_class(cfg)
    cfg = dict(cfg)
    kind = cfg.pop('type')
    return dict(type=kind, version=cls.version, **cls.pixel_settings(cfg)), cls.placement(cfg)
