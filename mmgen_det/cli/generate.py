"""Generate a synthetic set from a config, without training; resumable.

    python tools/generate.py CONFIG [--out DIR] [--num-images N] [--cfg-options k=v ...]
    torchrun --nproc-per-node 4 tools/generate.py CONFIG --launcher pytorch

CONFIG is a training config whose train dataset (possibly inside a ConcatDataset) is a
``SyntheticDetDataset`` with ``generation`` settings, e.g. a synthetic-pretrain config: the set written
to its ``data_root`` is the one the ``GLIGENGenerationHook`` of that config makes inside
``tools/train.py``. Killing and rerunning resumes where it stopped; other settings on the same folder
are refused, and so is a folder that holds files but no set (the output must be new, empty or a set's
own folder). Cleaning up after a kill deletes only the set's own file names.

``--cfg-options generation.KEY=VALUE`` sets KEY of that dataset's ``generation`` settings (e.g.
``generation.batch_size=8``, ``generation.generator.num_inference_steps=30``), wherever the dataset
sits in the config; other keys override the config as in mmdet's tools.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from typing import TYPE_CHECKING

from mmgen_det.utils.command_line import ArgumentParser, CfgOptions, positive_int

if TYPE_CHECKING:
    from mmgen_det.generation.settings import GenerationSettings

#: ``--cfg-options`` keys with this prefix set the synthetic dataset's ``generation`` settings
PREFIX = 'generation.'


def parse_args(argv=None) -> argparse.Namespace:
    parser = ArgumentParser(description='Generate a synthetic detection set (resumable)')
    parser.add_argument('config', help='config file with a `generation` dict')
    parser.add_argument('--out', help='output folder (overrides generation.out_dir)')
    parser.add_argument('--num-images', type=positive_int, help='number of images (overrides generation.num_images)')
    parser.add_argument('--no-progress', action='store_true', help='do not print a progress bar')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none',
                        help='shard the work over torchrun processes (gloo on CPU, nccl on GPU)')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptions,
                        help="override config settings; 'generation.' keys go to the synthetic dataset's "
                             'generation settings, e.g. generation.batch_size=8')
    return parser.parse_args(argv)


def load_generation_cfg(args: argparse.Namespace) -> GenerationSettings:
    """The settings of the config's one synthetic training set (wherever it sits in dataset wrappers),
    with the ``generation.`` options, ``--out`` and ``--num-images`` applied."""
    from mmengine.config import Config

    from mmgen_det.compat import apply_all
    from mmgen_det.generation.settings import GenerationSettings, train_generation_dataset
    apply_all()  # a config may inherit ``mmgen_det::`` bases
    cfg = Config.fromfile(args.config)
    options = dict(args.cfg_options or {})
    generation_options = {k[len(PREFIX):]: options.pop(k) for k in list(options) if k.startswith(PREFIX)}
    cfg.merge_from_dict(options)
    try:
        dataset = train_generation_dataset(cfg, args.config)
    except ValueError as e:
        sys.exit(str(e))
    generation = Config(dataset['generation'].to_dict())
    generation.merge_from_dict(generation_options)
    settings = GenerationSettings.from_dict(generation.to_dict())
    return replace(settings, out_dir=args.out or dataset['data_root'],
                   num_images=settings.num_images if args.num_images is None else args.num_images)


def init_launcher(launcher: str) -> None:
    if launcher == 'pytorch':
        import torch
        import torch.distributed as dist
        dist.init_process_group('nccl' if torch.cuda.is_available() else 'gloo')
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get('LOCAL_RANK', 0)))


def main(argv=None) -> None:
    args = parse_args(argv)
    settings = load_generation_cfg(args)
    init_launcher(args.launcher)
    from mmgen_det.generation import generate_synthetic_set
    summary = generate_synthetic_set(settings.to_dict(), progress=not args.no_progress)
    print(f'generate: {summary.line()}')


if __name__ == '__main__':
    main()
