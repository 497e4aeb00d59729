"""``PretrainedOrScratch``: load a local/URL backbone checkpoint; train from scratch only when allowed.

Why: mmdet's configs initialise backbones from ``torchvision://`` URLs, which need torchvision and a
download. Users bring their own ImageNet/COCO files instead. A missing or unreachable file must not
quietly turn the reference setting (a frozen ImageNet backbone) into a from-scratch run with far lower
numbers: it is an error naming the file and the way out, unless the init cfg says
``allow_scratch=True``. Then the backbone is unfrozen (a frozen random backbone learns nothing) and a
banner says so, in the log and on the screen. What the backbone started from is recorded on the module
and in the run's message hub (``init_source`` / ``backbone_init``: the checkpoint with its short
sha256, or ``'scratch'``), so checkpoints, stage records, ``results.csv`` and ``report.md`` state it.
"""
from __future__ import annotations

import logging
import os
import sys
from typing import Any

from mmengine.dist import get_rank
from mmengine.logging import MessageHub, print_log
from mmengine.model.weight_init import PretrainedInit
from mmdet.registry import WEIGHT_INITIALIZERS
from torch import nn

from ..models.packaged_weights import SCHEME as PACKAGED, packaged
from ..utils.hashing import file_sha256

REMOTE_PREFIXES = ('http://', 'https://', 'torchvision://', 'open-mmlab://', 'openmmlab://', 'mmcls://')
SCRATCH = 'scratch'
ALLOW_SCRATCH = '--cfg-options model.backbone.init_cfg.allow_scratch=True'
SHA_CHARS = 12
_shown_on_screen: set[str] = set()


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


def checkpoint_problem(checkpoint: str | None) -> str | None:
    """Why ``checkpoint`` cannot be loaded, as far as can be told without loading it (URLs only
    fail when tried); ``None`` when it may load."""
    if not checkpoint:
        return 'no checkpoint configured'
    if checkpoint.startswith(PACKAGED):
        try:
            path = packaged(checkpoint).path()
        except (KeyError, FileNotFoundError) as e:
            return str(e).strip('"')
        return None if path.is_file() else f'{checkpoint}: {path} is missing from its package (reinstall it)'
    if not checkpoint.startswith(REMOTE_PREFIXES) and not os.path.isfile(checkpoint):
        return f'checkpoint file {checkpoint!r} does not exist (working directory {os.getcwd()})'
    return None


def describe_checkpoint(checkpoint: str) -> str:
    """The record of a loaded checkpoint: the path and its short sha256 (a URL names its file; packaged
    weights name their package, its version and the file's sha256)."""
    if checkpoint.startswith(REMOTE_PREFIXES):
        return checkpoint
    if checkpoint.startswith(PACKAGED):
        entry = packaged(checkpoint)
        return (f'{checkpoint} ({entry.distribution} {entry.version()}, '
                f'sha256 {file_sha256(entry.path())[:SHA_CHARS]})')
    return f'{checkpoint} (sha256 {file_sha256(checkpoint)[:SHA_CHARS]})'


def backbone_init(model: nn.Module) -> str:
    """How ``model``'s backbone started: what ``PretrainedOrScratch`` recorded; otherwise the
    checkpoint of a ``Pretrained`` init cfg; a backbone that loads its own weights (a truthy
    ``pretrained`` attribute, as timm's and torchvision-style wrappers keep) says so; ``'scratch'``
    for random initialisers (RTMDet, YOLOX)."""
    backbone = getattr(model, 'backbone', None)
    if backbone is None:
        return 'unknown (the model has no backbone)'
    if hasattr(backbone, 'init_source'):
        return backbone.init_source
    init_cfg = getattr(backbone, 'init_cfg', None)
    init_cfgs = init_cfg if isinstance(init_cfg, list) else [init_cfg] if init_cfg else []
    loaded = [c['checkpoint'] for c in init_cfgs if c.get('type') == 'Pretrained']
    if loaded:
        return describe_checkpoint(loaded[0])
    own = getattr(backbone, 'pretrained', None)
    if own:
        return f'{type(backbone).__name__} loads its own weights (pretrained={own!r})'
    return SCRATCH


def record_init(module: nn.Module, source: str) -> None:
    """Keep ``source`` on the module and in the running Runner's message hub, so every checkpoint of
    the run carries how its backbone started (a fine-tune reads it from its ``load_from``)."""
    module.init_source = source
    MessageHub.get_current_instance().update_info('backbone_init', source, resumed=True)


def missing_checkpoint_message(module_name: str, problem: str) -> str:
    return (f'{module_name}: {problem}. Put the pretrained checkpoint there (the reference setting), or '
            f'train the backbone from scratch on purpose (unfrozen; results far below pretrained ones) '
            f'with init_cfg allow_scratch=True, e.g. {ALLOW_SCRATCH}')


def check_backbone_init(model_cfg: dict[str, Any], where: str) -> None:
    """Fail before any work when the backbone's ``PretrainedOrScratch`` checkpoint is missing and
    scratch training is not allowed (the same error its initialisation would raise, hours later)."""
    init_cfg = (model_cfg.get('backbone') or {}).get('init_cfg')
    if not isinstance(init_cfg, dict) or init_cfg.get('type') != 'PretrainedOrScratch':
        return
    if not init_cfg.get('allow_scratch', False):
        problem = checkpoint_problem(init_cfg.get('checkpoint'))
        if problem:
            raise FileNotFoundError(f'{where}: {missing_checkpoint_message("backbone", problem)}')


def announce_scratch(module_name: str, problem: str) -> None:
    """A banner in the log, and on the screen when the console goes to a file (experiment stages):
    from-scratch numbers must not pass for pretrained ones."""
    bar = '!' * 100
    banner = '\n'.join([
        bar,
        f'!! {module_name} backbone trained FROM SCRATCH (all stages unfrozen, allow_scratch=True):',
        f'!!   {problem}',
        '!! Results will be far below those of a pretrained backbone; put an ImageNet/COCO checkpoint at',
        '!! the configured path to get the reference setting.',
        bar])
    print_log('\n' + banner, logger='current', level=logging.WARNING)
    if sys.stdout is not sys.__stdout__ and get_rank() == 0 and banner not in _shown_on_screen:
        _shown_on_screen.add(banner)
        print(banner, file=sys.__stderr__, flush=True)


def loaded_record(module: nn.Module, missing: list[str], described: str, module_name: str) -> str:
    """The record of a load, checked: mmengine's ``Pretrained`` loads leniently (``strict=False``),
    so a checkpoint whose keys match nothing "loads" and leaves the random weights. ``missing``: the
    module's keys the checkpoint did not have. None loaded is an error; some is recorded (and logged)
    with how many."""
    expected = [k for k in module.state_dict() if not k.endswith('num_batches_tracked')]
    missing_set = {k for k in missing if not k.endswith('num_batches_tracked')}
    loaded = len(expected) - len(missing_set)
    if loaded <= 0:
        raise RuntimeError(f'{module_name}: {described} loaded none of its {len(expected)} tensors: the '
                           "checkpoint's keys do not match the module's (a wrong file, or a prefix to strip: "
                           "init_cfg prefix='backbone.')")
    if missing_set:
        print_log(f'{module_name}: {described} loaded {loaded} of {len(expected)} tensors; the others keep their '
                  f'initialisation (first missing: {sorted(missing_set)[:3]})', logger='current', level=logging.WARNING)
        return f'{described}, {loaded} of {len(expected)} tensors'
    return described


@WEIGHT_INITIALIZERS.register_module(name='PretrainedOrScratch')
class PretrainedOrScratchInit(PretrainedInit):
    """Like ``type='Pretrained'``; a missing or unreachable checkpoint is an error unless
    ``allow_scratch``, which trains the backbone from scratch, unfrozen, with a banner.

    Args:
        checkpoint: local path or URL; ``None`` or ``''`` needs ``allow_scratch=True``.
        prefix, map_location: as in mmengine's ``Pretrained``.
        allow_scratch: train from scratch when the checkpoint cannot be loaded (off by default: the
            configs' reference setting is a pretrained backbone).
    """

    def __init__(self, checkpoint: str | None = None, prefix: str | None = None,
                 map_location: str = 'cpu', allow_scratch: bool = False) -> None:
        super().__init__(checkpoint, prefix=prefix, map_location=map_location)
        self.allow_scratch = allow_scratch

    def __call__(self, module: nn.Module) -> None:
        ckpt = self.checkpoint
        name = type(module).__name__
        problem = checkpoint_problem(ckpt)
        if problem is None:
            try:
                missing: list[str] = []
                hook = module.register_load_state_dict_post_hook(
                    lambda _, keys: missing.extend(keys.missing_keys))
                try:
                    super().__call__(module)
                finally:
                    hook.remove()
                keep_loaded_weights(module)
                record_init(module, loaded_record(module, missing, describe_checkpoint(ckpt), name))
                return
            except (OSError, RuntimeError, ImportError) as e:  # unreachable URL, no torchvision
                if not ckpt.startswith(REMOTE_PREFIXES):
                    raise
                problem = f'checkpoint {ckpt!r} could not be loaded ({e})'
                if not self.allow_scratch:
                    raise RuntimeError(missing_checkpoint_message(name, problem)) from e
        if not self.allow_scratch:
            raise FileNotFoundError(missing_checkpoint_message(name, problem))
        unfreeze(module)
        record_init(module, SCRATCH)
        announce_scratch(name, problem)
