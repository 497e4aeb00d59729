"""mmgen_det: train detectors from a few real images plus layout-to-image generated ones.

``import mmgen_det`` registers the package's datasets, transforms and hooks into mmdet's registries
(configs load it with ``custom_imports = dict(imports=['mmgen_det'])``): at once where torch or mmdet is
already loaded, as in mmdet's tools, else when the process imports mmdet (``mmgen_det.registry``), so
that a command's ``--help`` or a mistyped option answers in a fraction of a second instead of after
mmdet's imports. The generation stage (``mmgen_det.generation``, ``mmgen_det.layouts``) needs only torch
and diffusers, so it also imports on a GPU box without an mmcv/mmdet install; registration then is
skipped.
"""
import sys
import warnings
from importlib.util import find_spec

# mmengine 0.10.7 imports pkg_resources, which setuptools >= 81 marks deprecated: the warning repeats
# on every command and says nothing a user can act on. Only that message is silenced.
warnings.filterwarnings('ignore', message='pkg_resources is deprecated as an API', category=UserWarning)

from .version import __version__  # noqa: E402

if find_spec('mmdet') is not None and find_spec('mmcv') is not None:
    from .registry import register_all_modules, register_when_mmdet_is_imported

    if 'torch' in sys.modules or 'mmdet' in sys.modules:
        register_all_modules()
    else:
        register_when_mmdet_is_imported()
