"""``PretrainedOrScratch``: load a local/URL backbone checkpoint, or train from scratch LOUDLY.

Why: mmdet's configs initialise backbones from ``torchvision://`` URLs, which need torchvision and a
download. Users bring their own ImageNet/COCO files instead. When the file is not there, a frozen
random backbone would learn nothing, so this initialiser unfreezes it (stages and norm layers) and
logs a warning that the results are from-scratch results. What happened is recorded on the module
(``module.init_source``) so experiment reports can state the backbone initialisation.
"""
from __future__ import annotations

import logging
import os

from mmengine.logging import print_log
from mmengine.model.weight_init import PretrainedInit
from mmdet.registry import WEIGHT_INITIALIZERS
from torch import nn

REMOTE_PREFIXES = ('http://', 'https://', 'torchvision://', 'open-mmlab://', 'openmmlab://', 'mmcls://')


def unfreeze(module: nn.Module) -> None:
    """Make every parameter trainable and keep norm layers in train mode (undo ``frozen_stages``)."""
    if hasattr(module, 'frozen_stages'):
        module.frozen_stages = -1
    if hasattr(module, 'norm_eval'):
        module.norm_eval = False
    for param in module.parameters():
        param.requires_grad = True
    module.train(module.training)


def keep_loaded_weights(module: nn.Module) -> None:
    """Stop the submodules' own initialisers from overwriting the weights just loaded.

    mmengine's ``BaseModule.init_weights`` applies a ``type='Pretrained'`` init AFTER the children's
    ``init_weights``, but any other type, this one included, BEFORE them. Children with an
    ``init_weights`` of their own would then replace the checkpoint's weights: mmcv's ``ConvModule``
    re-draws Kaiming weights (MobileNetV2's conv1 and conv2). ResNet's children have none.
    """
    for sub in module.modules():
        if sub is not module and hasattr(sub, 'init_weights'):
            sub.is_init = True


@WEIGHT_INITIALIZERS.register_module(name='PretrainedOrScratch')
class PretrainedOrScratchInit(PretrainedInit):
    """Like ``type='Pretrained'``, but a missing or unreachable checkpoint means training from scratch.

    Args:
        checkpoint: local path or URL; ``None`` or ``''`` means from scratch on purpose.
        prefix, map_location: as in mmengine's ``Pretrained``.
    """

    def __init__(self, checkpoint: str | None = None, prefix: str | None = None,
                 map_location: str = 'cpu') -> None:
        super().__init__(checkpoint, prefix=prefix, map_location=map_location)

    def __call__(self, module: nn.Module) -> None:
        ckpt = self.checkpoint
        reason = None
        if not ckpt:
            reason = 'no checkpoint configured'
        elif not ckpt.startswith(REMOTE_PREFIXES) and not os.path.isfile(ckpt):
            reason = f'checkpoint file {ckpt!r} does not exist'
        if reason is None:
            try:
                super().__call__(module)
                keep_loaded_weights(module)
                module.init_source = ckpt
                return
            except (OSError, RuntimeError, ImportError) as e:  # unreachable URL, no torchvision
                if not ckpt.startswith(REMOTE_PREFIXES):
                    raise
                reason = f'checkpoint {ckpt!r} could not be loaded ({e})'
        unfreeze(module)
        module.init_source = 'scratch'
        print_log(f'{"!" * 8} {type(module).__name__}: {reason}. Training it FROM SCRATCH (all stages '
                  f'unfrozen). Results will be far below pretrained ones; put an ImageNet/COCO checkpoint '
                  f'at the configured path to get the reference setting. {"!" * 8}',
                  logger='current', level=logging.WARNING)
