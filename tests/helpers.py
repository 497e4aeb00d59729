"""Helpers for tests that run the project's and mmdet's command-line tools, and small datasets made on the fly."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]

#: run_experiment options that shorten every training of a derived experiment to 2 iterations
TINY_SCHEDULE = ['--cfg-options', 'schedules.default.max_iters=2', 'schedules.default.val_interval=2',
                 'schedules.default.warmup_iters=1', 'schedules.pretrain.max_iters=2',
                 'schedules.pretrain.val_interval=2', 'schedules.finetune.max_iters=2',
                 'schedules.finetune.val_interval=2', 'cfg_options.model.test_cfg.score_thr=0']


def console_commands() -> dict[str, str]:
    """setup.py's ``COMMANDS`` (console script -> module of mmgen_det.cli), read without running setup()."""
    import ast
    tree = ast.parse((REPO / 'setup.py').read_text())
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], 'id', None) == 'COMMANDS')
    return ast.literal_eval(node.value)


def run_command(cmd: list[str], cwd: Path = REPO, timeout: float = 900, env: dict | None = None,
                check: bool = True) -> subprocess.CompletedProcess:
    """Run a command; on failure show its output in the assertion."""
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    if check:
        assert proc.returncode == 0, f'{cmd} exited {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}'
    return proc


def run_tool(args: list[str], cwd: Path = REPO, timeout: float = 900, env: dict | None = None,
             check: bool = True) -> subprocess.CompletedProcess:
    """Run a script with this interpreter; on failure show its output in the assertion."""
    return run_command([sys.executable, *args], cwd, timeout, env, check)


def script_module(folder: str, name: str):
    """``FOLDER/NAME.py`` imported as a module (benchmarks and tools are scripts, not a package)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, REPO / folder / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def benchmark_module(name: str):
    return script_module('benchmarks', name)


def stock_mmdet_tool(name: str) -> str:
    from mmgen_det.utils.mmdet_tools import mmdet_tool_path
    return str(mmdet_tool_path(name))


def tiny_demo_detector_cfg(fish_coco: Path, checkpoint: str | None):
    """The CPU demo detector on the shipped sample (converted to COCO at ``fish_coco``) at 96x54,
    batch 2, no loader workers; its backbone checkpoint ``checkpoint`` (None: from scratch, which the
    demo config allows)."""
    from mmengine.config import Config
    from mmgen_det.experiments import stages
    cfg = Config.fromfile(REPO / 'configs/demo/fcos_r18_real-only_fish4knowledge-mini.py')
    real = stages.RealData(f'{fish_coco}/', 'annotations/val.json', 'annotations/test.json')
    cfg = stages.with_real_data(cfg, real, 'annotations/train.json')
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        loader.update(batch_size=2, num_workers=0, persistent_workers=False)
        for step in loader.dataset.pipeline:
            if step.type == 'Resize':
                step.scale = (96, 54)
    cfg.model.backbone.init_cfg.checkpoint = checkpoint
    return cfg


def write_image(path: Path, size: tuple[int, int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path)


def yolo_folder(root: Path, classes: list[str], size: tuple[int, int], box_frac: float, images: int,
                names_file: str | None = 'classes.txt', first_seed: int = 0) -> Path:
    """``root/images`` + ``root/labels``, no yaml, no splits; class names in ``names_file``. Image i's
    pixels come from seed ``first_seed + i``: folders of one dataset need other seeds (the converter
    refuses splits that share an image)."""
    rng = np.random.default_rng(0)
    for i in range(images):
        write_image(root / 'images' / f'frame {i:03d}.jpg', size, first_seed + i)
        lines = []
        for k in range(1 + i % 3):
            c = (i + k) % len(classes)
            w = h = box_frac
            cx, cy = rng.uniform(w / 2, 1 - w / 2), rng.uniform(h / 2, 1 - h / 2)
            lines.append(f'{c} {cx:.5f} {cy:.5f} {w:.5f} {h:.5f}')
        (root / 'labels').mkdir(parents=True, exist_ok=True)
        (root / 'labels' / f'frame {i:03d}.txt').write_text('\n'.join(lines) + '\n')
    if names_file:
        (root / names_file).write_text('\n'.join(classes) + '\n')
    return root
