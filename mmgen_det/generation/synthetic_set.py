"""Generate (or finish generating) a synthetic set from a config dict; the one entry point used by
``tools/generate.py`` and by ``GLIGENGenerationHook``.

Config keys::

    out_dir       set folder (see writer.py for the layout on disk)
    num_images    how many images the set must hold; raising it later extends the set
    seed          global seed: layout i and image i's seed are pure functions of (seed, i)
    batch_size    layouts per generator call (does not change the images)
    image_format  'jpg' (default) or 'png'
    layout        dict for ``build_layout_sampler`` (ann_file of the real data, strategy, size...)
    generator     dict for ``build_generator`` (type='gligen' | 'copy_paste', ...)

Work is sharded by index (rank r takes i % world_size == r), so any number of ranks, and any
sequence of interruptions, gives the same set; rank 0 writes ``annotations.json`` after a barrier.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..layouts import build_layout_sampler
from ..utils.io import read_json
from ..utils.progress import ProgressBar
from .builder import build_generator
from ..utils.seeds import derive_seed
from .writer import ANNOTATIONS, SetLock, SyntheticSetWriter, read_annotations

logger = logging.getLogger(__name__)

REQUIRED_KEYS = ('out_dir', 'num_images', 'layout', 'generator')


@dataclass
class SetSummary:
    out_dir: Path
    num_images: int
    generated_now: int
    already_done: int
    repaired_lines: int
    orphans_removed: int

    def line(self) -> str:
        return (f'{self.out_dir}: {self.num_images} images ({self.already_done} already done, '
                f'{self.generated_now} generated now, {self.repaired_lines} torn manifest lines repaired, '
                f'{self.orphans_removed} orphan files removed)')


def _dist_info() -> tuple[int, int]:
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _barrier() -> None:
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def check_generation_cfg(cfg: dict[str, Any]) -> None:
    missing = [k for k in REQUIRED_KEYS if k not in cfg]
    if missing:
        raise KeyError(f'generation config lacks {missing}; it needs {list(REQUIRED_KEYS)}')
    if int(cfg['num_images']) <= 0:
        raise ValueError(f"generation num_images must be positive, got {cfg['num_images']}")


def set_is_complete(cfg: dict[str, Any]) -> bool:
    """True when ``annotations.json`` exists and lists exactly ``num_images`` images."""
    path = Path(cfg['out_dir']) / ANNOTATIONS
    if not path.is_file():
        return False
    return len(read_annotations(path)['images']) == int(cfg['num_images'])


def layout_categories(ann_file: str) -> list[dict[str, Any]]:
    """The categories of the real COCO file layouts come from: the set's class list.

    Read before the set folder is created and locked, so a bad file leaves nothing behind.
    """
    coco = read_json(ann_file)
    if not isinstance(coco, dict) or not isinstance(coco.get('categories'), list):
        raise ValueError(f'{ann_file}: no "categories" list, so not a COCO annotation file; point '
                         'generation.layout.ann_file at the real images\' COCO file (tools/convert_dataset.py)')
    return coco['categories']


def generation_settings(cfg: dict[str, Any]) -> dict[str, Any]:
    """What determines the images, known without loading any model.

    ``num_images`` is excluded (a set may be extended); the real annotation file is identified by
    its content hash, so a changed real subset under the same path refuses to mix with an old set.
    """
    ann_file = Path(cfg['layout']['ann_file'])
    return dict(seed=int(cfg.get('seed', 0)), layout=dict(cfg['layout']),
                layout_ann_sha256=hashlib.sha256(ann_file.read_bytes()).hexdigest(),
                generator=dict(cfg['generator']), image_format=cfg.get('image_format', 'jpg'))


def generate_synthetic_set(cfg: dict[str, Any], progress: bool = True) -> SetSummary:
    """Make sure ``cfg['out_dir']`` holds the complete set; generate only what is missing."""
    check_generation_cfg(cfg)
    out_dir = Path(cfg['out_dir'])
    num_images = int(cfg['num_images'])
    seed = int(cfg.get('seed', 0))
    rank, world_size = _dist_info()
    categories = layout_categories(cfg['layout']['ann_file'])

    with SetLock(out_dir) if rank == 0 else contextlib.nullcontext():
        return _generate(cfg, categories, out_dir, num_images, seed, rank, world_size, progress)


def _generate(cfg: dict[str, Any], categories: list[dict[str, Any]], out_dir: Path, num_images: int, seed: int,
              rank: int, world_size: int, progress: bool) -> SetSummary:
    layout_cfg = dict(cfg['layout'], seed=seed)
    writer = SyntheticSetWriter(out_dir, generation_settings(cfg), categories,
                                image_format=cfg.get('image_format', 'jpg'))
    if rank == 0:
        writer.check_or_write_settings()
    _barrier()
    if rank != 0:
        writer.check_or_write_settings()
    if set_is_complete(cfg):
        return SetSummary(out_dir, num_images, 0, num_images, 0, 0)

    sampler = build_layout_sampler(layout_cfg)
    generator = build_generator(cfg['generator'])

    scan = writer.scan(repair=(rank == 0))
    done = set(scan.done)
    orphans = writer.remove_orphans(done) if rank == 0 else 0
    _barrier()
    todo = [i for i in range(num_images) if i % world_size == rank and i not in done]
    already = len([i for i in range(num_images) if i % world_size == rank and i in done])

    bar = ProgressBar(total=already + len(todo), initial=already,
                      desc=f'generating {out_dir.name} (rank {rank}/{world_size})') if progress else None
    batch_size = int(cfg.get('batch_size', 1))
    identity = generator.identity()
    for start in range(0, len(todo), batch_size):
        indices = todo[start:start + batch_size]
        layouts = [sampler.sample(i) for i in indices]
        seeds = [derive_seed(seed, i) for i in indices]
        for layout, generated in zip(layouts, generator.generate(layouts, seeds)):
            record = dict(seed=generated.seed, attempts=generated.attempts, generator=generator.name,
                          model=identity.get('model'), layout_source=layout.source,
                          **generated.record)
            writer.write(layout, generated, record)
        if bar:
            bar.update(len(indices))
    if bar:
        bar.close()

    _barrier()
    if rank == 0:
        writer.finalize(range(num_images))
    _barrier()
    return SetSummary(out_dir, num_images, len(todo), len(done), scan.torn_lines, orphans)
