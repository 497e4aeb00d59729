"""Generation overhead of ``GLIGENGenerationHook`` inside an mmengine Runner vs calling the generator directly.

Both paths end with the same synthetic set generated (tiny offline GLIGEN, text-box grounding,
classifier-free guidance, 64x64, layouts from the shipped Fish4Knowledge sample) into a fresh folder
and the same train dataloader built on it; they alternate, ``repeats`` times:

* **direct**: ``generate_synthetic_set(cfg)`` (what ``tools/generate.py`` does), then the demo's
  train dataloader over the finished set (``Runner.build_dataloader``, no hook);
* **hook**: a Runner built from the demo's synthetic-pretrain config with the hook in
  ``custom_hooks``; timed is ``runner.train_loop`` (what ``Runner.train()`` builds first): its
  dataloader builds the ``SyntheticDetDataset``, which asks the hook to generate the set, then loads it.

Overhead = median(hook) / median(direct) - 1, the two paths run in ABBA order (direct first in even
repeats, the hook first in odd ones) so that drift of a shared machine favours neither. Target: <= 5%.
Building the Runner (model, hooks) is not generation and is reported apart, as is generation alone
and the dataset load that both paths pay (mmengine's ``BaseDataset._serialize_data`` runs a full
``gc.collect()``, ~1 s in a process holding torch + diffusers + mmdet, whatever the set size).
"""
from __future__ import annotations

import gc
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, main_with_common_cli, not_measured, result, row, summary  # noqa: E402

PRETRAIN_CFG = REPO / 'configs' / 'demo' / 'fcos_r18_synthetic-pretrain_fish4knowledge-mini.py'
FISH_MINI = REPO / 'data' / 'fish4knowledge-mini'
CLASSES = ('0', '1', '2', '5', '6', '7', '8')
TARGET = 0.05


def generation_cfg(real_ann: Path, model_dir: Path, num_images: int, steps: int) -> dict[str, Any]:
    return dict(num_images=num_images, seed=0, batch_size=4, image_format='png',
                layout=dict(ann_file=str(real_ann), strategy='jitter', width=64, height=64, zoom=(2.0, 3.0),
                            min_box_cells=0.5),
                generator=dict(type='gligen', model=str(model_dir), grounding='text-box',
                               prompt='an underwater photo of {phrases}',
                               phrases={c: f'a fish of species {c}' for c in CLASSES},
                               num_inference_steps=steps, guidance_scale=7.5, scheduled_sampling_beta=0.5,
                               device='cpu', batch_size=4))


def dataloader_cfg(out_dir: Path, generation: dict[str, Any] | None) -> Any:
    """The demo's train dataloader over ``out_dir`` (with ``generation`` settings for the hook path)."""
    from mmengine.config import Config

    loader = Config.fromfile(str(PRETRAIN_CFG)).train_dataloader
    loader.num_workers, loader.persistent_workers = 0, False
    loader.dataset.data_root = f'{out_dir}/'
    if generation is None:
        loader.dataset.pop('generation')
    else:
        loader.dataset.generation = generation
    return loader


def direct(generation: dict[str, Any], out_dir: Path) -> tuple[float, float]:
    """(seconds to generate + build the dataloader, seconds of generation alone)."""
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    from mmgen_det.generation import generate_synthetic_set

    init_default_scope('mmdet')
    start = time.perf_counter()
    generate_synthetic_set(dict(generation, out_dir=str(out_dir)), progress=False)
    generated = time.perf_counter()
    loader = Runner.build_dataloader(dataloader_cfg(out_dir, None))
    end = time.perf_counter()
    if len(loader.dataset) != generation['num_images']:
        raise RuntimeError(f"direct path loaded {len(loader.dataset)} images, expected {generation['num_images']}")
    return end - start, generated - start


def through_runner(generation: dict[str, Any], out_dir: Path, work_dir: Path) -> tuple[float, float]:
    """(seconds to build the train loop = generate + load, seconds to build the Runner)."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    cfg = Config.fromfile(str(PRETRAIN_CFG))
    cfg.work_dir = str(work_dir)
    cfg.train_dataloader = dataloader_cfg(out_dir, generation)
    cfg.custom_hooks = [dict(type='GLIGENGenerationHook', progress=False)]
    cfg.log_level = 'WARNING'
    start = time.perf_counter()
    runner = Runner.from_cfg(cfg)
    built = time.perf_counter()
    loop = runner.train_loop
    seconds = time.perf_counter() - built
    length = len(loop.dataloader.dataset)
    del runner, loop
    gc.collect()
    if length != generation['num_images']:
        raise RuntimeError(f"the Runner loaded {length} images, expected {generation['num_images']}")
    return seconds, built - start


def run(quick: bool = False, repeats: int | None = None) -> dict[str, Any]:
    from mmgen_det.datasets import convert_dataset
    from mmgen_det.testing.tiny_gligen import save_tiny_gligen

    repeats = repeats or (1 if quick else 4)
    num_images, steps = (4, 4) if quick else (24, 8)
    torch.set_num_threads(1)
    settings = dict(generator='tiny GLIGEN text-box, 64x64, guidance 7.5', steps=steps, num_images=num_images,
                    batch_size=4, repeats=repeats, torch_threads=1, config=str(PRETRAIN_CFG.relative_to(REPO)))
    tmp = Path(tempfile.mkdtemp(prefix='bench_hook_'))
    t_direct, t_generate, t_hook, t_runner = [], [], [], []
    try:
        convert_dataset(FISH_MINI, 'yolo', tmp / 'fish-coco')
        generation = generation_cfg(tmp / 'fish-coco' / 'annotations' / 'train.json',
                                    save_tiny_gligen(tmp / 'tiny-gligen', 'text-box'), num_images, steps)
        direct(generation, tmp / 'warmup-direct')  # first model load, imports, Runner: untimed
        through_runner(generation, tmp / 'warmup-hook', tmp / 'warmup-work')
        for r in range(repeats):  # ABBA order: a machine that slows down or speeds up favours neither path
            for path in ('direct', 'hook') if r % 2 == 0 else ('hook', 'direct'):
                if path == 'direct':
                    total, generate = direct(generation, tmp / f'direct{r}')
                    t_direct.append(total)
                    t_generate.append(generate)
                else:
                    seconds, runner_s = through_runner(generation, tmp / f'hook{r}', tmp / f'work{r}')
                    t_hook.append(seconds)
                    t_runner.append(runner_s)
    except Exception as e:  # noqa: BLE001  (a broken path is reported, never timed)
        reason = f'{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ""}'
        return result('hook_overhead', 'GLIGENGenerationHook in a Runner vs direct generation', settings,
                      dict(error=reason), [not_measured('generation overhead of the hook', reason, f'<= {TARGET:.0%}')])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    d, h, g = summary(t_direct), summary(t_hook), summary(t_generate)
    overhead = h['median_s'] / d['median_s'] - 1
    met = overhead <= TARGET
    rows = [row(f'{num_images} images: hook in Runner vs direct (generate + build train dataloader)',
                f"{h['median_s']:.2f} s vs {d['median_s']:.2f} s = {overhead:+.1%}", f'<= {TARGET:.0%}', met,
                '' if met else 'differences this small are within run-to-run noise on a shared 2-core machine '
                f"(min times: {h['min_s']:.2f} s vs {d['min_s']:.2f} s); more images or repeats would settle it"),
            row('  of which generation alone (direct) / dataset load after it',
                f"{g['median_s']:.2f} s / {d['median_s'] - g['median_s']:.2f} s"),
            row('  (not timed above) building the Runner: model, hooks, config', f"{summary(t_runner)['median_s']:.2f} s")]
    return result('hook_overhead', 'GLIGENGenerationHook in a Runner vs direct generation', settings,
                  dict(direct=d, direct_generation_only=g, hook=h, runner_build=summary(t_runner), overhead=overhead),
                  rows)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return main_with_common_cli(__doc__, run, argv)


if __name__ == '__main__':
    main()
