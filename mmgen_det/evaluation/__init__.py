"""Statistics over a test split's detections, recomputed without a model."""
from .resampled_ap import ResampledCocoAP, load_coco

__all__ = ['ResampledCocoAP', 'load_coco']
