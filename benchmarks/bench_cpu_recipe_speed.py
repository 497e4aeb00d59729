"""Training throughput of the CPU recipe's detector against the one it replaced, at the same batch and crop.

Both configs are derived from the shipped Fish4Knowledge sample by ``mmgen_det.recipes.detector_config``
exactly as ``tools/init_experiment.py --device cpu`` derives them (input scale, 256-px random crop, batch,
optimizer), and initialised as a run initialises them: ``fcos-lite0`` loads its pip-installed ImageNet
weights and keeps the backbone frozen; ``fcos-r18`` has no checkpoint on such a machine and trains from
scratch, unfrozen. One batch through the train pipeline, then ``train_step`` timed for each model in
turn, ``--repeats`` rounds; the ratio is of the medians measured in the same run.
"""
from __future__ import annotations

import logging
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, main_with_common_cli, result, row, summary  # noqa: E402

F4K = REPO / 'data' / 'fish4knowledge-mini'
DETECTORS = ('fcos-lite0', 'fcos-r18')  # the CPU recipe's detector, then the one it replaced
STEPS_PER_ROUND = 5


def trainer(detector: str, data_root: Path, classes: list[str], profile):
    """(model, optim wrapper, one training batch) of the derived CPU config, initialised as a run does."""
    import torch
    from mmdet.registry import DATASETS, MODELS
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import build_optim_wrapper

    from mmgen_det.recipes import detector_config
    cfg = detector_config(detector, classes, profile, 'cpu', data_root=f'{data_root}/')
    dataset_cfg = cfg.train_dataloader.dataset
    dataset_cfg.update(ann_file='annotations/train.json')
    dataset = DATASETS.build(dataset_cfg)
    torch.manual_seed(0)
    batch = pseudo_collate([dataset[i] for i in range(cfg.train_dataloader.batch_size)])
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    return model, build_optim_wrapper(model, cfg.optim_wrapper), batch


def run(quick: bool = False, repeats: int | None = None) -> dict[str, Any]:
    import time

    import torch
    from mmdet.utils import register_all_modules
    from mmengine.logging import MMLogger

    import mmgen_det  # noqa: F401  registers the package's modules
    from mmgen_det.datasets import convert_dataset
    from mmgen_det.datasets.profile import coco_classes, profile_coco
    from mmgen_det.engine.pretrained_init import backbone_init
    from mmgen_det.utils.io import read_json

    register_all_modules(init_default_scope=True)
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    repeats = repeats or (2 if quick else 5)
    tmp = Path(tempfile.mkdtemp(prefix='bench_cpu_recipe_speed_'))
    try:
        convert_dataset(F4K, 'yolo', tmp / 'coco')
        train = read_json(tmp / 'coco' / 'annotations' / 'train.json')
        classes, profile = list(coco_classes(train)), profile_coco(train)
        runs = {name: trainer(name, tmp / 'coco', classes, profile) for name in DETECTORS}
        times: dict[str, list[float]] = {name: [] for name in DETECTORS}
        for name, (model, optim, batch) in runs.items():  # one untimed step each
            model.train_step(batch, optim)
        for _ in range(repeats):  # interleaved, so both see the same machine load
            for name, (model, optim, batch) in runs.items():
                start = time.perf_counter()
                for _ in range(STEPS_PER_ROUND):
                    model.train_step(batch, optim)
                times[name].append((time.perf_counter() - start) / STEPS_PER_ROUND)
        measurements = {name: dict(summary(times[name]), backbone_init=backbone_init(runs[name][0]),
                                   input_hw=list(runs[name][2]['inputs'][0].shape[1:]),
                                   batch=len(runs[name][2]['inputs']),
                                   trainable_params=sum(p.numel() for p in runs[name][0].parameters()
                                                        if p.requires_grad))
                        for name in DETECTORS}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    new, old = (measurements[name] for name in DETECTORS)
    ratio = old['median_s'] / new['median_s']
    h, w = new['input_hw']
    rows = [row(f'{name}: s per training iteration, batch {m["batch"]} of {w}x{h} crops ({m["backbone_init"]})',
                f"{m['median_s']:.3f} s ({1 / m['median_s']:.1f} it/s)") for name, m in measurements.items()]
    rows.append(row(f'{DETECTORS[0]} throughput / {DETECTORS[1]} throughput', f'{ratio:.1f}x', '>= 3x', ratio >= 3))
    measurements['ratio'] = ratio
    settings = dict(data=str(F4K.relative_to(REPO)), repeats=repeats, steps_per_round=STEPS_PER_ROUND,
                    torch_threads=torch.get_num_threads())
    return result('cpu_recipe_speed', 'CPU recipe: training throughput against the former from-scratch detector',
                  settings, measurements, rows)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return main_with_common_cli(__doc__, run, argv)


if __name__ == '__main__':
    main()
