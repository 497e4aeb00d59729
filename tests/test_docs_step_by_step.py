"""docs/your_dataset.md's "Step by step with mmdet's tools" works as written: convert, subset, init,
set the paths, generate, train and test with mmdet's tools, then pretrain, fine-tune and test.

The commands are read from the section's code block (``\\`` continuations joined, comment lines dropped)
and run one by one, as written, in bash, from a scratch folder standing in for the checkout's root (its
``tools`` is a link to the checkout's), on a dataset made here at the block's ``path/to/export``: a YOLO
export with ``train``/``valid``/``test`` folders and a ``data.yaml``, other classes and sizes than the
shipped sample. Two things are added and nothing is changed: ``python`` is this interpreter, and options
appended at the end of a command shorten the work (``APPENDED``: the CPU recipe, 2 training iterations,
6 generated images, no loader workers, score threshold 0 so that an untrained detector is evaluated).
The slowest kind of test (a few minutes on 2 cores), marked with a long timeout like the wheel's.
"""
from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO, yolo_folder

DOC = REPO / 'docs' / 'your_dataset.md'
HEADING = "## Step by step with mmdet's tools"
CLASSES = ['sea star', 'crab', 'eel']
TINY_LOADERS = [f'{split}_dataloader.{key}' for split in ('train', 'val', 'test')
                for key in ('num_workers=0', 'persistent_workers=False')]
#: program -> options appended to every command of the block that runs it
APPENDED = {
    'tools/init_experiment.py': ['--device', 'cpu'],
    'tools/generate.py': ['--num-images', '6', '--no-progress'],
    'tools/train.py': ['--cfg-options', 'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
                       'default_hooks.logger.interval=1', 'model.test_cfg.score_thr=0', *TINY_LOADERS],
    'tools/test.py': ['--cfg-options', 'model.test_cfg.score_thr=0', *TINY_LOADERS],
}
#: a pretraining on the generated set would complete it to the config's size first
GENERATED_SET_SIZE = 'train_dataloader.dataset.generation.num_images=6'
#: every step of the path, in the order the block must run them
STEPS = ['tools/convert_dataset.py', 'tools/make_subset.py', 'tools/init_experiment.py', 'sed',
         'tools/generate.py', 'tools/train.py', 'tools/test.py']


def block_of(section: str) -> list[str]:
    """The commands of the first code block under the heading ``section`` of DOC."""
    text = DOC.read_text()
    start = text.index(section + '\n')
    lines = text[start:].split('```')[1].split('\n')[1:]  # the block, without its ```bash line
    commands, pending = [], ''
    for line in lines:
        if not line.strip() or line.lstrip().startswith('#'):
            continue
        if line.rstrip().endswith('\\'):
            pending += line.rstrip()[:-1].strip() + ' '
            continue
        commands.append(pending + line.strip())
        pending = ''
    assert not pending, f'{DOC.name}: a command ends with a continuation: {pending!r}'
    return commands


def program(command: str) -> str:
    words = shlex.split(command.split('$(')[0])
    return words[1] if words[0] == 'python' else words[0]


def make_export(root: Path) -> Path:
    """A Roboflow-style YOLO export: ``data.yaml`` and ``train``/``valid``/``test`` folders, 128x96 frames,
    104 training images so that the block's 100-image subset is drawn as written."""
    for i, (split, images) in enumerate([('train', 104), ('valid', 8), ('test', 8)]):
        yolo_folder(root / split, CLASSES, (128, 96), 0.2, images, names_file=None, first_seed=1000 * i)
    (root / 'data.yaml').write_text('train: train/images\nval: valid/images\ntest: test/images\n'
                                    f'names: {json.dumps(CLASSES)}\n')
    return root


def as_run(command: str) -> str:
    """The command with this interpreter for ``python`` and the shortening options appended."""
    prog = program(command)
    extra = list(APPENDED.get(prog, []))
    if prog == 'tools/train.py' and 'generation_' in command:
        extra.append(GENERATED_SET_SIZE)
    command = re.sub(r'^python(?=\s)', shlex.quote(sys.executable), command)
    return ' '.join([command, *map(shlex.quote, extra)])


def test_the_block_walks_the_whole_path():
    """The block keeps every step, in order (so a step dropped from the doc is not dropped silently)."""
    programs = [program(c) for c in block_of(HEADING)]
    firsts = [programs.index(step) if step in programs else None for step in STEPS]
    assert None not in firsts, f'{DOC.name}: the step-by-step block lacks {[s for s, f in zip(STEPS, firsts) if f is None]}'
    assert firsts == sorted(firsts), f'{DOC.name}: steps out of order: {programs}'


@pytest.mark.timeout(1800)
def test_step_by_step_runs_as_written(tmp_path):
    from mmengine.config import Config

    from mmgen_det.recipes.generation import IMAGES_PER_REAL

    commands = block_of(HEADING)
    root = tmp_path / 'checkout'
    root.mkdir()
    (root / 'tools').symlink_to(REPO / 'tools')
    make_export(root / 'path' / 'to' / 'export')
    outputs = {}
    for command in commands:
        proc = subprocess.run(['bash', '-c', as_run(command)], cwd=root, capture_output=True, text=True,
                              timeout=900)
        assert proc.returncode == 0, (f'{DOC.name}, step-by-step command failed ({proc.returncode}):\n  {command}\n'
                                      f'{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')
        outputs[command] = proc.stdout + proc.stderr

    coco = root / 'data' / 'mydata-coco' / 'annotations'
    assert {p.name for p in coco.glob('*.json')} >= {'train.json', 'val.json', 'test.json'}
    subset_cmd = next(c for c in commands if program(c) == 'tools/make_subset.py')
    n_real = int(re.search(r'--num-images\s+(\d+)', subset_cmd).group(1))
    subset = re.search(r'--out\s+(\S+)', subset_cmd).group(1)
    assert len(json.loads((root / subset).read_text())['images']) == n_real

    # what step 4 promises: no placeholder left, the subset feeds training and the generator, the set's size
    configs = root / 'work_dirs' / 'mydata' / 'configs'
    for name in ('detector.py', 'generation_copy-paste.py'):
        assert 'data/converted/' not in (configs / name).read_text(), f'{name} still holds the placeholder'
    det = Config.fromfile(configs / 'detector.py')
    assert det.train_dataloader.dataset.ann_file == str(Path(subset).relative_to('data/mydata-coco'))
    generation = Config.fromfile(configs / 'generation_copy-paste.py').train_dataloader.dataset.generation
    assert generation.num_images == IMAGES_PER_REAL['cpu'] * n_real
    assert generation.layout.ann_file == generation.generator.ann_file == subset

    generated = root / 'work_dirs' / 'synthetic' / 'mydata_copy-paste'
    assert len(json.loads((generated / 'annotations.json').read_text())['images']) == 6
    record = json.loads((generated / 'generation_config.json').read_text())
    assert (generated / record['layout']['ann_file']).resolve() == (root / subset).resolve()

    for stage in ('real-only', 'pretrain', 'finetune'):
        assert list((root / 'work_dirs' / 'mydata' / stage).glob('best_*.pth')), f'{stage}: no best checkpoint'
    finetune = next(c for c in commands if 'load_from=' in c)
    assert re.search(r'Load checkpoint from \S*pretrain/best_\S+\.pth', outputs[finetune]), \
        'the fine-tune starts from the pretrained checkpoint'
    tests = [c for c in commands if program(c) == 'tools/test.py']
    assert len(tests) == 2 and all('coco/bbox_mAP:' in outputs[c] for c in tests)
