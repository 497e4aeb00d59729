"""``GenerationSettings``: a config's ``generation`` dict, found once, parsed and checked once.

A config describes its set in one place: the ``generation`` dict of its training ``SyntheticDetDataset``
(configs/_base_/generation/*.py, the configs ``tools/init_experiment.py`` derives), which may sit inside
dataset wrappers (``ConcatDataset``, ``RepeatDataset``, ``ClassBalancedDataset``...).
:func:`generation_datasets` finds it wherever it sits and :meth:`GenerationSettings.from_dict` parses it,
refusing unknown keys (:func:`~.synthetic_set.check_generation_keys`): ``tools/generate.py``, the
experiment's generate stage and the dataset go through both, so they agree on the set a config describes.

Plain data, no mmengine: the generation stage runs without an OpenMMLab install.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, replace
from typing import Any, Mapping

from ..utils.dataset_configs import leaf_datasets
from .synthetic_set import check_generation_keys


def plain(value: Any) -> Any:
    """``value`` with every mapping (an mmengine ``ConfigDict`` too) a new plain ``dict``."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return copy.deepcopy(value)


def _int(cfg: dict[str, Any], key: str, positive: bool) -> int | None:
    value = cfg.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f'generation {key} must be an int, got {value!r}')
    if positive and value <= 0:
        raise ValueError(f'generation {key} must be positive, got {value}')
    return value


@dataclass(frozen=True)
class GenerationSettings:
    """The keys of a ``generation`` dict (``mmgen_det.generation.synthetic_set`` documents each).

    ``layout`` and ``generator`` stay dicts, whose keys are checked against the layout sampler's
    settings and the generator class's arguments: they are handed on to ``build_layout_sampler`` and
    ``build_generator``. ``out_dir`` is unset in a dataset's settings (its set is its ``data_root``),
    and ``batch_size`` unset leaves the generator's own (deprecated) one, else 1.
    """
    layout: dict[str, Any]
    generator: dict[str, Any]
    num_images: int | None = None
    out_dir: str | None = None
    seed: int = 0
    batch_size: int | None = None
    image_format: str = 'jpg'

    @classmethod
    def from_dict(cls, cfg: Mapping[str, Any] | GenerationSettings) -> GenerationSettings:
        """Parse a ``generation`` dict; an unknown key anywhere in it is an ``UnknownKeyError`` naming
        the closest known one, before any file is read."""
        if isinstance(cfg, GenerationSettings):
            return cfg
        cfg = plain(cfg)
        check_generation_keys(cfg)
        missing = [k for k in ('layout', 'generator') if not isinstance(cfg.get(k), dict)]
        if missing:
            raise ValueError(f'generation needs {missing} dicts; got {sorted(cfg)}')
        image_format = cfg.get('image_format', 'jpg')
        if not isinstance(image_format, str):
            raise TypeError(f'generation image_format must be a string, got {image_format!r}')
        out_dir = cfg.get('out_dir')
        return cls(layout=cfg['layout'], generator=cfg['generator'], num_images=_int(cfg, 'num_images', True),
                   out_dir=None if out_dir is None else str(out_dir), seed=_int(cfg, 'seed', False) or 0,
                   batch_size=_int(cfg, 'batch_size', True), image_format=image_format)

    def to_dict(self) -> dict[str, Any]:
        """The plain dict ``generate_synthetic_set`` and ``pixel_settings`` read (unset keys left out)."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def with_real_data(self, ann_file: str, img_root: str) -> GenerationSettings:
        """These settings with every reference to the real data pointed at ``ann_file`` / ``img_root``.

        An experiment's layouts, copy-paste crops and backgrounds, and GLIGEN's image-grounding crops
        come only from the N real images of the run: the generator never sees more real data than
        the arm may use.
        """
        generator = dict(self.generator)
        for key, value in (('ann_file', ann_file), ('img_root', img_root)):
            if key in generator:
                generator[key] = value
        if 'crops' in generator:
            generator['crops'] = dict(generator['crops'], ann_file_or_dict=ann_file, img_root=img_root)
        return replace(self, layout=dict(self.layout, ann_file=ann_file), generator=generator)


def generation_datasets(node: Any) -> list[Mapping[str, Any]]:
    """Every dataset config with ``generation`` settings in ``node`` (a dataset config, or a list of
    them), including those inside wrappers."""
    return [dataset for dataset in leaf_datasets(node) if dataset.get('generation')]


def train_generation_dataset(cfg: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """The one dataset config with ``generation`` settings in ``cfg``'s ``train_dataloader``."""
    found = generation_datasets((cfg.get('train_dataloader') or {}).get('dataset'))
    if len(found) != 1:
        raise ValueError(f'{where}: expected one SyntheticDetDataset with `generation` settings in '
                         f'train_dataloader (directly or in dataset wrappers), found {len(found)}; use a '
                         'synthetic-pretrain config (one inheriting configs/_base_/generation/*.py)')
    return found[0]


def load_generation_settings(cfg: Mapping[str, Any], where: str) -> GenerationSettings:
    """The parsed ``generation`` settings of ``cfg``'s training set (:func:`train_generation_dataset`)."""
    return GenerationSettings.from_dict(train_generation_dataset(cfg, where)['generation'])
