"""CPU cost of the detector family (``configs/{faster_rcnn,fcos,retinanet,mobilenet}``): one training step
and one prediction per model.

Each model's ``*_real-only_fish4knowledge.py`` config as written (frozen backbone stages where it freezes
them), random weights (no ImageNet file is loaded), on 2 real frames of the shipped sample through the
config's own train pipeline at its own input scale (``--quick``: 96x54): ``train_step`` (forward,
backward, the config's optimizer step) and ``val_step`` on the same 2 images, medians over ``--repeats``
after one untimed warm-up. No targets: the figures size CPU runs. The unit tests train these models at
a tiny scale and check only that they learn and predict.
"""
from __future__ import annotations

import logging
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, main_with_common_cli, median_time, result, row  # noqa: E402

F4K = REPO / 'data' / 'fish4knowledge-mini'
QUICK_SCALE = (96, 54)
BATCH = 2


def family_configs() -> list[Path]:
    return sorted(REPO.glob('configs/*/*_real-only_fish4knowledge.py'))


def step_times(config: Path, data_root: Path, repeats: int, scale: tuple[int, int] | None) -> dict[str, Any]:
    """Median seconds of one ``train_step`` and one ``val_step`` on a batch of 2 real frames."""
    import torch
    from mmdet.registry import DATASETS, MODELS
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import build_optim_wrapper

    cfg = Config.fromfile(str(config))
    cfg.model.backbone.init_cfg = None
    dataset_cfg = cfg.train_dataloader.dataset
    dataset_cfg.update(data_root=f'{data_root}/', ann_file='annotations/train.json')
    for step in dataset_cfg.pipeline:
        if scale and step.type == 'Resize':
            step.scale = scale
    dataset = DATASETS.build(dataset_cfg)
    batch = pseudo_collate([dataset[i] for i in range(BATCH)])
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    train = median_time(lambda: model.train_step(batch, optim_wrapper), repeats)
    model.eval()
    with torch.no_grad():
        predict = median_time(lambda: model.val_step(batch), repeats)
    shape = tuple(batch['inputs'][0].shape[1:])
    return dict(train_step=train, val_step=predict, input_hw=shape)


def run(quick: bool = False, repeats: int | None = None) -> dict[str, Any]:
    import torch
    from mmdet.utils import register_all_modules
    from mmengine.logging import MMLogger

    import mmgen_det  # noqa: F401  registers the package's modules
    from mmgen_det.datasets import convert_dataset

    register_all_modules(init_default_scope=True)
    MMLogger.get_current_instance().setLevel(logging.WARNING)  # not every weight's init, five times over
    repeats = repeats or (1 if quick else 2)
    scale = QUICK_SCALE if quick else None
    tmp = Path(tempfile.mkdtemp(prefix='bench_family_'))
    measurements, rows = {}, []
    try:
        convert_dataset(F4K, 'yolo', tmp / 'coco')
        for config in family_configs():
            name = config.name.replace('_real-only_fish4knowledge.py', '')
            m = step_times(config, tmp / 'coco', repeats, scale)
            measurements[name] = m
            h, w = m['input_hw']
            rows.append(row(f'{name}: train step / prediction, batch {BATCH} at {w}x{h}',
                            f"{m['train_step']['median_s']:.2f} s / {m['val_step']['median_s']:.2f} s"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    settings = dict(data=str(F4K.relative_to(REPO)), batch=BATCH, repeats=repeats,
                    scale=f'{QUICK_SCALE[0]}x{QUICK_SCALE[1]}' if quick else "each config's own",
                    weights='random (backbone frozen where the config freezes it)',
                    torch_threads=torch.get_num_threads())
    return result('detector_family', 'Detector family: CPU train step and prediction', settings, measurements, rows)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return main_with_common_cli(__doc__, run, argv)


if __name__ == '__main__':
    main()
