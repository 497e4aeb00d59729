"""The built wheel works outside the checkout: installed into a fresh virtual environment, run from
another folder, its commands find the shipped configs, derive an experiment, train and report.

The new environment reuses this one's compiled stack (torch, mmcv with ops, mmdet) through a ``.pth``
line, so nothing is built twice; ``mmgen_det`` itself comes only from the wheel (the checkout's editable
hook is not loaded there), which the test asserts before anything else.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from helpers import REPO, TINY_SCHEDULE, console_commands, run_command, yolo_folder

from mmgen_det.experiments.report import read_csv

SOURCES = ('setup.py', 'README.md', 'requirements', 'mmgen_det', 'configs')


def build_wheel(out: Path) -> Path:
    """``pip wheel .`` on a copy of the sources, so the checkout gets no build/ or egg-info."""
    src = out / 'src'
    src.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, symlinks=True, ignore=shutil.ignore_patterns('__pycache__'))
        else:
            shutil.copy2(path, src / name)
    run_command([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q',
                 '--disable-pip-version-check', str(src), '-w', str(out / 'dist')], cwd=out, timeout=600)
    return next((out / 'dist').glob('mmgen_det-*.whl'))


def fresh_env(root: Path, wheel: Path) -> Path:
    """A new venv holding the wheel, with this environment's site-packages (torch, mmcv, mmdet) behind it."""
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(root)], check=True)
    python = root / 'bin' / 'python'
    purelib = run_command([str(python), '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                          cwd=root).stdout.strip()
    Path(purelib, 'reuse_compiled_stack.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')
    # --ignore-installed: the editable mmgen_det of this environment is visible but must not be touched
    run_command([str(python), '-m', 'pip', 'install', '--no-deps', '--no-index', '--ignore-installed', '-q',
                 '--disable-pip-version-check', str(wheel)], cwd=root, timeout=300)
    return root / 'bin'


@pytest.fixture(scope='module')
def installed(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp('wheel')
    return fresh_env(tmp / 'venv', build_wheel(tmp))


def test_the_wheel_holds_the_package_not_the_checkout(installed, tmp_path):
    where = run_command([str(installed / 'python'), '-c', 'import mmgen_det, mmgen_det.recipes as r; '
                         'print(mmgen_det.__file__); print(r.CONFIGS)'], cwd=tmp_path).stdout.split()
    assert all(Path(p).is_relative_to(installed.parent) for p in where), where
    assert not Path(where[1]).is_symlink() and (Path(where[1]) / '_base_' / 'models').is_dir()


@pytest.mark.timeout(1800)
def test_one_command_from_a_bare_yolo_folder_outside_the_checkout(installed, tmp_path):
    """The user's first command, installed: images/ + labels/ + classes.txt, multi-word and non-ASCII
    names, no val or test split, run from a folder that is not the checkout."""
    classes = ['rainbow trout', 'éléphant de mer', 'car']
    src = yolo_folder(tmp_path / 'drone set', classes, (640, 360), 0.05, 30)
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    init = run_command([str(installed / 'mmgen-det-init'), str(src), '--out', 'exp', '--device', 'cpu'],
                       cwd=elsewhere)
    assert (elsewhere / 'exp' / 'experiment.py').is_file() and 'mmgen-det-run' in init.stdout
    args = [str(installed / 'mmgen-det-run'), '--data', str(src), '--work-dir', 'work', '--num-real', '6',
            '--arms', 'real-only', 'synthetic-pretrain', '--device', 'cpu']
    assert 'stages' in run_command([*args, '--dry-run'], cwd=elsewhere).stdout
    proc = run_command([*args, *TINY_SCHEDULE], cwd=elsewhere, timeout=1200)
    assert 'pkg_resources' not in proc.stderr
    assert re.search(r'real N6_s0: \d+/2 \[', proc.stderr), 'a live progress line per training'
    work = elsewhere / 'work'
    rows = read_csv(work / 'results.csv')
    assert {r['arm'] for r in rows} == {'real-only', 'synthetic-pretrain'}
    for row in rows:
        assert {f'AP_{c}' for c in classes} <= set(row), sorted(row)
    report = (work / 'report.md').read_text()
    assert 'held out' in report and '`éléphant de mer`' in report
    data = json.loads(next((work / 'stages' / 'data').glob('*/record.json')).read_text())
    assert data['split']['split_off'] == ['val', 'test'] and data['classes'] == classes
    # rerun with the same options: the folder is reused and no stage runs again
    again = run_command([*args, *TINY_SCHEDULE], cwd=elsewhere)
    assert 'reusing' in again.stdout and ', 0 stages run' in again.stdout
    # other options on the same folder are refused, naming what changed
    refused = run_command([*args, '--num-real', '4'], cwd=elsewhere, check=False)
    assert refused.returncode != 0 and 'num_real' in refused.stderr
    module_help = run_command([str(installed / 'python'), '-m', 'mmgen_det.cli.convert_dataset', '--help'],
                              cwd=elsewhere)
    assert '--on-bad-image' in module_help.stdout


def test_user_configs_inherit_the_shipped_bases_by_prefix(installed, tmp_path):
    (tmp_path / 'my_detector.py').write_text(
        "_base_ = ['mmgen_det::_base_/models/fcos_efficientnet-lite0_fpn_frozen-imagenet.py']\n"
        "model = dict(bbox_head=dict(num_classes=2))\n")
    out = run_command([str(installed / 'python'), '-c', 'import mmgen_det; from mmengine.config import Config; '
                       "c = Config.fromfile('my_detector.py'); print(c.model.backbone.type, c.model.bbox_head.num_classes)"],
                      cwd=tmp_path)
    assert out.stdout.split() == ['EfficientNetLite', '2']


def test_every_cli_module_is_a_command_and_a_tools_wrapper():
    """setup.py's COMMANDS, mmgen_det/cli/ and tools/ name the same commands."""
    commands = console_commands()
    modules = {p.stem for p in (REPO / 'mmgen_det' / 'cli').glob('*.py')} - {'__init__'}
    assert sorted(commands.values()) == sorted(modules)
    for module in modules:
        wrapper = (REPO / 'tools' / f'{module}.py').read_text()
        assert f'from mmgen_det.cli.{module} import main' in wrapper, module
