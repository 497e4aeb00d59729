"""Generation: layouts in, a synthetic COCO set on disk out. Needs torch (+ diffusers for GLIGEN)
only, never mmcv/mmdet, so it runs on GPU boxes without an OpenMMLab build."""
from .base import BaseGenerator, GeneratedImage
from .builder import build_generator
from .synthetic_set import SetSummary, generate_synthetic_set, set_is_complete
from .writer import SyntheticSetWriter

__all__ = ['BaseGenerator', 'GeneratedImage', 'build_generator', 'SetSummary', 'generate_synthetic_set',
           'set_is_complete', 'SyntheticSetWriter']
