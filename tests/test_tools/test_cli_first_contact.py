"""A user's first minutes with the commands: ``--help`` and a mistyped option answer before mmdet (or
torch) is imported, yet a config's ``custom_imports=['mmgen_det']`` still registers every class; a
mistyped choice names the closest valid one; typed options say what they expect; our warnings are one
``WARNING:`` line; and an error or a warning never lands glued to the end of a progress line.

How long ``--help`` takes is a benchmark figure (``benchmarks/bench_cli_startup.py``), not asserted here.
"""
from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, run_tool
from PIL import Image

from mmgen_det.cli import convert_dataset, generate, init_experiment, make_subset, pr_filter, run_experiment

COMMANDS = sorted(p.stem for p in (REPO / 'mmgen_det' / 'cli').glob('*.py') if (REPO / 'tools' / p.name).is_file())
#: every command but train and test, which are mmdet's own scripts (its imports come before their parser)
LIGHT_HELP = ('browse_synthetic', 'convert_dataset', 'feature_distance', 'generate', 'init_experiment', 'make_subset',
              'pr_filter', 'run_experiment')
PROGRESS = re.compile(r'\r[^\n\r]*: \d+/\d+ \[')


def output_of(args: list[str]) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``python ARGS``, the carriage returns of progress lines kept (text
    mode would turn them into newlines)."""
    proc = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, timeout=600)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def modules_after(code: str) -> set[str]:
    """The top-level modules a fresh interpreter holds after running ``code``."""
    probe = f'{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}})))'
    return set(json.loads(run_tool(['-c', probe]).stdout.splitlines()[-1]))


@pytest.mark.parametrize('name', COMMANDS)
def test_importing_a_command_imports_no_mmdet(name):
    assert not {'mmdet', 'torch'} & modules_after(f'import mmgen_det.cli.{name}')


@pytest.mark.parametrize('name', LIGHT_HELP)
def test_help_imports_neither_torch_nor_mmdet(name):
    loaded = modules_after(f'from mmgen_det.cli.{name} import main\ntry:\n    main(["--help"])\n'
                           'except SystemExit:\n    pass')
    assert not {'mmdet', 'mmcv', 'torch'} & loaded


def test_custom_imports_still_registers_in_a_fresh_process(tmp_path):
    """What mmengine's Runner does with a config: load it (finding mmdet's base configs, and
    ``custom_imports`` imports mmgen_det, before anything imported mmdet), set the default scope, build a
    hook and look a dataset type up."""
    config = tmp_path / 'config.py'
    config.write_text("_base_ = 'mmdet::_base_/default_runtime.py'\n"
                      "custom_imports = dict(imports=['mmgen_det'], allow_failed_imports=False)\n")
    script = textwrap.dedent(f'''
        import importlib.util, sys
        from mmengine.config import Config
        from mmengine.registry import HOOKS, init_default_scope
        cfg = Config.fromfile({str(config)!r})
        assert 'mmgen_det' in sys.modules and 'mmdet' not in sys.modules
        assert importlib.util.find_spec('mmdet')  # finding is not importing (config paths find packages)
        init_default_scope(cfg.default_scope)
        hook = HOOKS.build(dict(type='TrainingProgressHook'))
        from mmdet.registry import DATASETS
        print(type(hook).__module__, DATASETS.get('SyntheticDetDataset').__module__)
    ''')
    assert run_tool(['-c', script]).stdout.split() == ['mmgen_det.engine.hooks.progress_hook',
                                                       'mmgen_det.datasets.synthetic_dataset']


def exit_message(capsys, main, argv: list[str]) -> str:
    """What ``main(argv)`` prints to stderr as it refuses the command line."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize('main, argv, expected', [
    (run_experiment.parse_args, ['--data', 'd', '--generator', 'copypaste'],
     "argument --generator: invalid choice: 'copypaste' (did you mean 'copy-paste'? choose from 'copy-paste', "),
    (init_experiment.main, ['d', '--out', 'o', '--arms', 'real-only', 'realonly'],
     "argument --arms: invalid choice: 'realonly' (did you mean 'real-only'?"),
    (convert_dataset.main, ['src', '--out', 'o', '--format', 'yolov5'],
     "argument --format: invalid choice: 'yolov5' (did you mean 'yolo'? choose from 'auto', "),
    (generate.main, ['config.py', '--launcher', 'pytoch'],
     "argument --launcher: invalid choice: 'pytoch' (did you mean 'pytorch'? choose from 'none', 'pytorch')"),
    (convert_dataset.main, ['src', '--out', 'o', '--format', 'xml'],
     "argument --format: invalid choice: 'xml' (choose from 'auto', "),
])
def test_a_mistyped_choice_names_the_closest_one(capsys, main, argv, expected):
    assert expected in exit_message(capsys, main, argv)


@pytest.mark.parametrize('main, argv, expected', [
    (run_experiment.parse_args, ['--data', 'd', '--num-real', '50', 'fifty'],
     "argument --num-real: invalid number of real images: 'fifty' (a positive whole number or 'all')"),
    (init_experiment.main, ['d', '--out', 'o', '--num-real', '0'], "invalid number of real images: '0'"),
    (init_experiment.main, ['d', '--out', 'o', '--classes', 'pike,,trout'],
     "argument --classes: invalid class names: 'pike,,trout' (comma-separated names in label order, none empty"),
    (convert_dataset.main, ['src', '--out', 'o', '--classes', ','], "argument --classes: invalid class names: ','"),
    (make_subset.main, ['ann.json', '--num-images', 'ten', '--seed', '0', '--out', 'o.json'],
     "argument --num-images: invalid value: 'ten' (a whole number, 1 or more)"),
    (pr_filter.main, ['set', '--detector-config', __file__, '--checkpoint', __file__, '--min-precision', 'high'],
     "argument --min-precision: must be a number in [0, 1], got 'high'"),
    (pr_filter.main, ['set', '--detector-config', __file__, '--checkpoint', __file__, '--batch-size', '0'],
     "argument --batch-size: invalid value: '0' (a whole number, 1 or more)"),
])
def test_a_typed_option_says_what_it_expects(capsys, main, argv, expected):
    message = exit_message(capsys, main, argv)
    assert expected in message and '<lambda>' not in message


def test_no_option_type_is_a_lambda():
    """argparse names a bad value's type by the function's ``__name__``: ``invalid <lambda> value``."""
    sources = [*(REPO / 'mmgen_det').rglob('*.py'), *(REPO / 'tools').glob('*.py')]
    assert [str(p) for p in sources if re.search(r'type\s*=\s*lambda', p.read_text())] == []


def write_copy_paste_config(path: Path, fish_coco: Path, out: Path) -> Path:
    """Two 96x64 copy-paste images of the real set, with the deprecated ``generator.batch_size``."""
    ann = str(fish_coco / 'annotations' / 'train.json')
    path.write_text(f'''
train_dataloader = dict(dataset=dict(type='SyntheticDetDataset', data_root={f"{out}/"!r}, ann_file='annotations.json',
    generation=dict(num_images=2, seed=0, batch_size=2, image_format='jpg',
        layout=dict(ann_file={ann!r}, strategy='jitter', width=96, height=64, min_box_cells=0.5, min_boxes=1),
        generator=dict(type='copy_paste', ann_file={ann!r}, img_root={str(fish_coco)!r}, batch_size=2))))
''')
    return path


def test_our_warning_is_one_line_and_the_progress_line_is_ended(tmp_path, fish_coco):
    config = write_copy_paste_config(tmp_path / 'generate.py', fish_coco, tmp_path / 'set')
    code, _, err = output_of(['tools/generate.py', str(config)])
    assert code == 0, err
    assert re.search(r'(^|\n)WARNING: generation\.generator\.batch_size is deprecated: set generation\.batch_size '
                     r'only, .*\n', err)
    assert 'synthetic_set.py' not in err and 'FutureWarning' not in err and 'warnings.warn' not in err
    assert PROGRESS.search(err) and err.endswith('\n')


def noise_jpeg(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (32, 48, 3), dtype=np.uint8)).save(buf, 'JPEG')
    return buf.getvalue()


def test_an_error_starts_its_own_line(tmp_path):
    """Refused before any progress: the message is the first line; refused half-way through the images
    (the second one is not an image): the progress line is ended first, without a blank line."""
    src = tmp_path / 'src'
    (src / 'images').mkdir(parents=True)
    (src / 'labels').mkdir()
    (src / 'classes.txt').write_text('fish\n')
    for name, data in (('a', noise_jpeg(0)), ('b', b'not an image'), ('c', noise_jpeg(1))):
        (src / 'images' / f'{name}.jpg').write_bytes(data)
        (src / 'labels' / f'{name}.txt').write_text('0 0.5 0.5 0.2 0.2\n')
    (tmp_path / 'full').mkdir()
    (tmp_path / 'full' / 'mine.txt').write_text('')

    before = output_of(['tools/convert_dataset.py', str(src), '--out', str(tmp_path / 'full')])[2]
    assert before.startswith('error: ')

    midway = output_of(['tools/convert_dataset.py', str(src), '--out', str(tmp_path / 'out')])[2]
    assert PROGRESS.match(midway) and '\n\n' not in midway
    progress, error = midway.split('\n')[-3:-1]
    assert progress.startswith('\rtrain: 1/3 [') and error.startswith('error: ') and 'b.jpg' in error


def test_a_glued_line_is_impossible_once_parsed(tmp_path):
    """The brief's sighting, ``train: 75/164 [...]run_experiment: ...``: a training's bar on the real
    stderr, then a message on stdout, a warning of ours and the command's exit message."""
    script = textwrap.dedent('''
        import sys, warnings
        from mmgen_det.cli.generate import parse_args
        from mmgen_det.utils.progress import ProgressBar
        parse_args(['config.py'])
        bar = ProgressBar(164, desc='train', initial=74, interval=0, stream=sys.__stderr__)
        bar.update()
        print('to stdout', flush=True)
        bar.update()
        from mmgen_det.experiments import cache
        warnings.warn_explicit('a warning of ours', UserWarning, cache.__file__, 1)
        bar.update()
        sys.exit('run_experiment: stopped')
    ''')
    code, out, err = output_of(['-c', script])
    assert [line.split(' [')[0] for line in err.split('\n')] == [
        '\rtrain: 75/164', '\rtrain: 76/164', 'WARNING: a warning of ours', '\rtrain: 77/164',
        'run_experiment: stopped', '']
    assert code == 1 and out == 'to stdout\n'
