"""Every setting derived from a user's data, so their dataset needs no hand-written config.

In: a :class:`~mmgen_det.datasets.profile.DataProfile` (classes, frame and object sizes), a detector
name and a device class (``'cpu'`` or ``'gpu'``). Out: a complete mmdet config whose classes,
``num_classes`` of every head, pipelines, optimizer and schedule all come from here, and the generators'
settings. One module per decision:

``detectors``     which detector, its model base, optimizer and batch; the complete mmdet config
``scale``         the input scale and training crop
``schedules``     iterations, LR schedule, validation and compute estimates per device
``generation``    canvas, zoom, phrases and images per real image of each generator
``mmdet_config``  classes of every dataset and head of an mmdet config, through dataset wrappers
"""
from .detectors import (CONFIGS, DEFAULT_DETECTOR, DETECTORS, GPU_FALLBACK_DETECTOR, DetectorRecipe, allow_scratch,
                        default_detector, detector_config)
from .generation import (GENERATORS, GLIGEN_LONG_SIDE, GLIGEN_MIN_OBJECT_SIDE, IMAGES_PER_REAL, derive_generation,
                         generation_canvas, gligen_phrases)
from .mmdet_config import ClassMismatchError, check_classes, heads_with_classes, set_classes
from .scale import DEVICES, MAX_LONG_SIDE, MIN_OBJECT_SIDE, TRAIN_CROP, InputScale, input_scale, pipelines
from .schedules import CPU_LOADERS, ESTIMATES, SCHEDULES, VAL_IMAGES, default_num_real, schedule_cfg

__all__ = ['CONFIGS', 'DEFAULT_DETECTOR', 'DETECTORS', 'GPU_FALLBACK_DETECTOR', 'DetectorRecipe', 'allow_scratch',
           'default_detector', 'detector_config', 'GENERATORS', 'GLIGEN_LONG_SIDE', 'GLIGEN_MIN_OBJECT_SIDE',
           'IMAGES_PER_REAL', 'derive_generation', 'generation_canvas', 'gligen_phrases',
           'ClassMismatchError', 'check_classes', 'heads_with_classes', 'set_classes', 'DEVICES',
           'MAX_LONG_SIDE', 'MIN_OBJECT_SIDE', 'TRAIN_CROP', 'InputScale', 'input_scale', 'pipelines', 'CPU_LOADERS',
           'ESTIMATES', 'SCHEDULES', 'VAL_IMAGES', 'default_num_real', 'schedule_cfg']
