"""Generate (or finish generating) a synthetic set from a config dict; the one entry point used by
``tools/generate.py`` and by ``GLIGENGenerationHook``.

Config keys::

    out_dir       set folder (see set_format.py for the files on disk)
    num_images    how many images the set must hold; raising it later extends the set
    seed          global seed: layout i and image i's seed are pure functions of (seed, i)
    batch_size    the one batch size: layouts generated together (GLIGEN denoises them in one loop);
                  it does not change the images. ``generator.batch_size`` is deprecated
    image_format  'jpg' (default) or 'png'
    layout        dict for ``build_layout_sampler`` (ann_file of the real data, strategy, size...)
    generator     dict for ``build_generator`` (type='gligen' | 'copy_paste', ...)

Any other key, here, in ``layout`` or in ``generator``, is an error naming the closest known one
(:func:`check_generation_keys`): a misspelt setting would otherwise leave its default in force.

Work is sharded by index (rank r takes i % world_size == r), so any number of ranks, and any
sequence of interruptions, gives the same set; rank 0 writes ``annotations.json`` after a barrier.
A set is complete only when its files are (:func:`set_is_complete`): an image deleted or cut short
since is made again, and said so.

``generation_config.json`` holds what determines the pixels, in three parts: the settings known from
the config (:func:`generation_settings`: seed, layouts and the real annotations' hash, image format, the
generator's type, version and settings), ``placement`` (the device class and dtype this machine runs
the generator with) and ``identity`` (the generator as loaded: e.g. the model's commit or weights
digest). A resumed set must agree on all three; a complete set, which generates nothing, only on the
first (so a set made on a GPU can be trained on elsewhere). Paths are stored relative to the set when
they share a tree with it, so a work dir can move with its sets and data.
"""
from __future__ import annotations

import contextlib
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..layouts import build_layout_sampler
from ..layouts.sampler import LAYOUT_KEYS, LAYOUT_VERSION
from ..utils.hashing import file_sha256
from ..utils.io import read_json
from ..utils.keys import check_keys
from ..utils.progress import ProgressBar
from .builder import build_generator, generator_class, generator_settings
from ..utils.seeds import derive_seed
from .set_format import ANNOTATIONS, MANIFEST, read_annotations
from .writer import SetLock, SyntheticSetWriter, check_set_folder

logger = logging.getLogger(__name__)

REQUIRED_KEYS = ('out_dir', 'num_images', 'layout', 'generator')
GENERATION_KEYS = (*REQUIRED_KEYS, 'seed', 'batch_size', 'image_format')
#: parts of generation_config.json that only a generation compares (see the module docstring)
PLACEMENT, IDENTITY = 'placement', 'identity'


@dataclass
class SetSummary:
    out_dir: Path
    num_images: int
    generated_now: int
    already_done: int
    repaired_lines: int
    orphans_removed: int  # temporary files of interrupted writes
    batch_size: int
    missing_made_again: int = 0  # listed in the manifest, but missing or cut short on disk

    def line(self) -> str:
        return (f'{self.out_dir}: {self.num_images} images ({self.already_done} already done, '
                f'{self.generated_now} generated now in batches of {self.batch_size}, '
                f'{self.missing_made_again} missing or cut short on disk made again, '
                f'{self.repaired_lines} torn manifest lines repaired, '
                f'{self.orphans_removed} temp files of interrupted writes removed)')


def _dist_info() -> tuple[int, int]:
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _barrier() -> None:
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def check_generation_keys(cfg: dict[str, Any]) -> None:
    """Raise :class:`~mmgen_det.utils.keys.UnknownKeyError` for a key of ``cfg``, of its layout or of
    its generator that generation does not read; before any file is read or written."""
    check_keys(cfg, GENERATION_KEYS, 'generation')
    check_keys(cfg.get('layout') or {}, LAYOUT_KEYS, 'generation.layout')
    if 'generator' in cfg:
        generator_class(cfg['generator'])


def check_generation_cfg(cfg: dict[str, Any]) -> None:
    check_generation_keys(cfg)
    missing = [k for k in REQUIRED_KEYS if k not in cfg]
    if missing:
        raise KeyError(f'generation config lacks {missing}; it needs {list(REQUIRED_KEYS)}')
    if int(cfg['num_images']) <= 0:
        raise ValueError(f"generation num_images must be positive, got {cfg['num_images']}")
    if int(cfg.get('batch_size', 1)) <= 0:
        raise ValueError(f"generation batch_size must be positive, got {cfg['batch_size']}")


def one_batch_size(cfg: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The set's one batch size, and the generator config without a batch size of its own.

    ``generator.batch_size`` (GLIGEN's own, which silently capped ``batch_size``) is deprecated: it
    still works, with a warning, and given both the smaller is used, as before.
    """
    generator = dict(cfg['generator'])
    own = generator.pop('batch_size', None)
    batch_size = min((int(b) for b in (cfg.get('batch_size'), own) if b is not None), default=1)
    if own is not None:
        warnings.warn(f'generation.generator.batch_size is deprecated: set generation.batch_size only, the '
                      f'number of layouts generated together (using {batch_size})', FutureWarning)
    return batch_size, generator


def set_is_complete(cfg: dict[str, Any]) -> bool:
    """True when ``annotations.json`` lists exactly ``num_images`` images and each of them is on disk as
    written (the size its manifest line records): a set with an image deleted or cut short is not done."""
    out_dir, num_images = Path(cfg['out_dir']), int(cfg['num_images'])
    path = out_dir / ANNOTATIONS
    if not path.is_file() or len(read_annotations(path)['images']) != num_images:
        return False
    done = SyntheticSetWriter(out_dir, {}, []).scan(repair=False).done
    return all(i in done for i in range(num_images))


def layout_categories(ann_file: str) -> list[dict[str, Any]]:
    """The categories of the real COCO file layouts come from: the set's class list.

    Read before the set folder is created and locked, so a bad file leaves nothing behind.
    """
    coco = read_json(ann_file)
    if not isinstance(coco, dict) or not isinstance(coco.get('categories'), list):
        raise ValueError(f'{ann_file}: no "categories" list, so not a COCO annotation file; point '
                         'generation.layout.ann_file at the real images\' COCO file (tools/convert_dataset.py)')
    return coco['categories']


def pixel_settings(cfg: dict[str, Any]) -> dict[str, Any]:
    """What of a generation config determines the images, from the config alone (no file is read):
    what an experiment's generate stage is keyed by.

    ``num_images`` is excluded (a set may be extended), and so are the batch size and the device
    index, which do not change the images; :data:`PLACEMENT` holds the device class and dtype this
    machine would use (float16 on a GPU and float32 on a CPU give other images).
    """
    check_generation_keys(cfg)
    generator, placement = generator_settings(cfg['generator'])
    return {'seed': int(cfg.get('seed', 0)), 'layout': dict(cfg['layout']), 'layout_version': LAYOUT_VERSION,
            'image_format': cfg.get('image_format', 'jpg'), 'generator': generator, PLACEMENT: placement}


def relative_paths(value: Any, set_dir: Path) -> Any:
    """``value`` with every path in it (a string that is absolute, or has a ``/`` and names an existing
    file or folder) made relative to ``set_dir`` when both lie in one tree below the filesystem root:
    a work dir moved with its sets and data keeps the same settings."""
    if isinstance(value, dict):
        return {k: relative_paths(v, set_dir) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [relative_paths(v, set_dir) for v in value]
    if not isinstance(value, str) or not (os.path.isabs(value) or ('/' in value and os.path.exists(value))):
        return value
    path, base = os.path.abspath(value), os.path.abspath(set_dir)
    return path if os.path.commonpath([path, base]) == os.sep else os.path.relpath(path, base)


def generation_settings(cfg: dict[str, Any]) -> dict[str, Any]:
    """What determines the images, known without loading any model: :func:`pixel_settings` plus the
    content hash of the real annotation file (a changed real subset under the same path refuses to
    mix with an old set), paths relative to the set (:func:`relative_paths`)."""
    ann_file = Path(cfg['layout']['ann_file'])
    settings = dict(pixel_settings(cfg), layout_ann_sha256=file_sha256(ann_file))
    return relative_paths(settings, Path(cfg['out_dir']))


def generate_synthetic_set(cfg: dict[str, Any], progress: bool = True) -> SetSummary:
    """Make sure ``cfg['out_dir']`` holds the complete set; generate only what is missing."""
    check_generation_cfg(cfg)
    out_dir = Path(cfg['out_dir'])
    num_images = int(cfg['num_images'])
    seed = int(cfg.get('seed', 0))
    rank, world_size = _dist_info()
    categories = layout_categories(cfg['layout']['ann_file'])
    check_set_folder(out_dir)  # before the lock file goes into it

    with SetLock(out_dir) if rank == 0 else contextlib.nullcontext():
        return _generate(cfg, categories, out_dir, num_images, seed, rank, world_size, progress)


def _generate(cfg: dict[str, Any], categories: list[dict[str, Any]], out_dir: Path, num_images: int, seed: int,
              rank: int, world_size: int, progress: bool) -> SetSummary:
    layout_cfg = dict(cfg['layout'], seed=seed)
    batch_size, generator_cfg = one_batch_size(cfg)
    writer = SyntheticSetWriter(out_dir, generation_settings(cfg), categories,
                                image_format=cfg.get('image_format', 'jpg'))
    if set_is_complete(cfg):  # nothing is generated: where it would run, and the model, do not matter
        writer.check_settings(ignore=(PLACEMENT, IDENTITY))
        return SetSummary(out_dir, num_images, 0, num_images, 0, 0, batch_size)
    writer.check_settings(ignore=(IDENTITY, ))  # before any model loads

    sampler = build_layout_sampler(layout_cfg)
    generator = build_generator(generator_cfg)
    identity = generator.identity()
    writer.add_settings(**{IDENTITY: relative_paths(identity, out_dir)})
    if rank == 0:
        writer.check_or_write_settings()
    _barrier()
    if rank != 0:
        writer.check_or_write_settings()

    scan = writer.scan(repair=(rank == 0))
    done = set(scan.done)
    if scan.missing_images and rank == 0:
        warnings.warn(f'{out_dir}: {scan.missing_images} images listed in {MANIFEST} are missing or not the '
                      'size written; they are made again, each from its own seed (so the same image)',
                      stacklevel=2)
    writer.check_unlisted(scan, (i for i in range(num_images) if i not in done))
    orphans = writer.remove_temp_files() if rank == 0 else 0
    _barrier()
    todo = [i for i in range(num_images) if i % world_size == rank and i not in done]
    already = len([i for i in range(num_images) if i % world_size == rank and i in done])

    bar = ProgressBar(total=already + len(todo), initial=already,
                      desc=f'generating {out_dir.name} (rank {rank}/{world_size})') if progress else None
    for start in range(0, len(todo), batch_size):
        indices = todo[start:start + batch_size]
        layouts = [sampler.sample(i) for i in indices]
        seeds = [derive_seed(seed, i) for i in indices]
        for layout, generated in zip(layouts, generator.generate(layouts, seeds)):
            record = dict(seed=generated.seed, attempts=generated.attempts, generator=generator.name,
                          model=identity.get('model'), layout_source=layout.source,
                          **generated.record)
            writer.write(generated.layout or layout, generated, record)
        if bar:
            bar.update(len(indices))
    if bar:
        bar.close()

    _barrier()
    if rank == 0:
        writer.finalize(range(num_images))
    _barrier()
    return SetSummary(out_dir, num_images, len(todo), len(done), scan.torn_lines, orphans, batch_size,
                      scan.missing_images)
