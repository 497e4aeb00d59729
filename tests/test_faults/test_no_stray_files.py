"""Safety: the tools write only into their configured output folders and declared caches, and nothing
ever runs a model's remote code.

With HOME, the XDG folders, HF_HOME, TORCH_HOME and TMPDIR pointed into a sandbox, saving the tiny
GLIGEN, generating a set from it with tools/generate.py and a few iterations (with one validation) of
tools/train.py on the demo real-only config may create or change files only under OUT or under
DECLARED_CACHES: nothing elsewhere in the sandbox (no temp file left in TMPDIR), in the repository or
in the real data they read.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from helpers import REPO, run_tool
from synthetic_sets import write_gligen_config

from mmgen_det.datasets.subsets import make_subset

DEMO_CFG = REPO / 'configs' / 'demo' / 'fcos_r18_real-only_fish4knowledge-mini.py'
ITERS = 2
# sandbox folder of each variable that says where programs keep their files
SANDBOXED = {'HOME': 'home', 'XDG_CACHE_HOME': 'cache', 'XDG_CONFIG_HOME': 'config', 'XDG_DATA_HOME': 'share',
             'HF_HOME': 'hf', 'TORCH_HOME': 'torch', 'TMPDIR': 'tmp'}
# variables that override the ones above: unset, so that none sends writes past the sandbox (with
# MPLCONFIGDIR unset, matplotlib shows where it writes: XDG_CACHE_HOME/matplotlib)
OVERRIDES = ('MPLCONFIGDIR', 'HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'TRANSFORMERS_CACHE', 'HF_MODULES_CACHE',
             'TORCHINDUCTOR_CACHE_DIR', 'TRITON_CACHE_DIR')
# Third-party caches the runs may write (sandbox-relative): derived data, rebuilt when deleted, never
# an input of mmgen_det, and kept in the user's cache folder where such data belongs.
DECLARED_CACHES = (
    'cache/matplotlib',  # matplotlib's font list, built on first import (mmengine's visualizer imports it)
    'cache/YAPF',  # yapf's grammar pickles: mmengine formats a config with yapf when it dumps it to the work dir
)
SKIPPED_DIRS = {'.venv', '.git', '__pycache__'}  # the interpreter's own bytecode and the VCS


def snapshot(root: Path) -> dict[Path, tuple[int, int]]:
    """Every file under ``root`` except in SKIPPED_DIRS: path -> (size, mtime)."""
    files = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
        for name in names:
            stat = os.lstat(os.path.join(folder, name))
            files[Path(folder) / name] = (stat.st_size, stat.st_mtime_ns)
    return files


def train_options(data_root: Path, val_ann: Path) -> list[str]:
    """A few training iterations at the frames' own scale, then one validation on two images."""
    root = f'{data_root}/'
    return [f'train_dataloader.dataset.data_root={root}', 'train_dataloader.batch_size=2',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            'train_dataloader.dataset.pipeline.2.scale=(360,202)',
            f'val_dataloader.dataset.data_root={root}', f'val_dataloader.dataset.ann_file={val_ann}',
            'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
            'val_dataloader.dataset.pipeline.1.scale=(360,202)', f'val_evaluator.ann_file={val_ann}',
            f'train_cfg.max_iters={ITERS}', f'train_cfg.val_interval={ITERS}',
            f'default_hooks.checkpoint.interval={ITERS}', f'param_scheduler.1.end={ITERS}',
            'param_scheduler.1.milestones=[1]']


def test_tools_write_only_their_outputs_and_declared_caches(tmp_path, fish_coco, monkeypatch):
    env = {var: str(tmp_path / folder) for var, folder in SANDBOXED.items()}
    for folder in env.values():
        Path(folder).mkdir()
    for var in OVERRIDES:
        monkeypatch.delenv(var, raising=False)
    inputs, out = tmp_path / 'inputs', tmp_path / 'out'
    inputs.mkdir()
    gen_cfg = write_gligen_config(inputs / 'gen_cfg.py', fish_coco, out / 'model', out / 'set', num_images=2)
    val_ann = inputs / 'val_2.json'
    val_ann.write_text(json.dumps(make_subset(
        json.loads((fish_coco / 'annotations' / 'val.json').read_text()), 2, seed=0)))
    watched = (tmp_path, REPO, fish_coco)
    before = {root: snapshot(root) for root in watched}

    run_tool(['-m', 'mmgen_det.testing.tiny_gligen', '--out', str(out / 'model')], env=env)
    run_tool(['tools/generate.py', str(gen_cfg), '--no-progress'], env=env)
    run_tool(['tools/train.py', str(DEMO_CFG), '--work-dir', str(out / 'work'),
              '--cfg-options', *train_options(fish_coco, val_ann)], env=env)

    assert (out / 'set' / 'annotations.json').is_file() and (out / 'work' / f'iter_{ITERS}.pth').is_file()
    assert not list(out.rglob('*.lock')), 'a finished run leaves its lock files behind'
    allowed = (out, *(tmp_path / cache for cache in DECLARED_CACHES))
    stray = []
    for root in watched:
        after = snapshot(root)
        stray += [str(p) for p in sorted(set(before[root]) | set(after))
                  if before[root].get(p) != after.get(p) and not any(p.is_relative_to(a) for a in allowed)]
    assert not stray, 'files created, changed or removed outside the outputs and declared caches:\n' + \
        '\n'.join(stray)


def test_no_remote_code_is_ever_trusted():
    pattern = re.compile(r'''trust_remote_code['"]?\s*[=:]\s*True''')
    hits = [f'{path.relative_to(REPO)}:{n}: {line.strip()}'
            for top in ('mmgen_det', 'tools') for path in sorted((REPO / top).rglob('*'))
            if path.is_file() and '__pycache__' not in path.parts
            for n, line in enumerate(path.read_text(errors='replace').splitlines(), 1) if pattern.search(line)]
    assert not hits, hits
