"""mmgen_det: train detectors from a few real images plus layout-to-image generated ones.

``import mmgen_det`` registers the package's datasets, transforms and hooks into mmdet's registries
(configs load it with ``custom_imports = dict(imports=['mmgen_det'])``). The generation stage
(``mmgen_det.generation``, ``mmgen_det.layouts``) needs only torch and diffusers, so it also imports
on a GPU box without an mmcv/mmdet install; registration then is skipped.
"""
from importlib.util import find_spec

__version__ = '0.1.0'

if find_spec('mmdet') is not None and find_spec('mmcv') is not None:
    from .registry import register_all_modules

    register_all_modules()
