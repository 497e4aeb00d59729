"""A new user's first commands: a refused command leaves nothing behind, so the corrected rerun just works;
the dry run says what the test split can tell, which objects are too small to detect, and what its hours
are estimated from; every image is decoded once."""
from __future__ import annotations

import contextlib
import io
import json
import math
import re
from pathlib import Path

import pytest
from helpers import write_image, yolo_folder

from mmgen_det.cli import init_experiment as init_cli
from mmgen_det.cli import run_experiment as run_cli
from mmgen_det.datasets.formats import common
from mmgen_det.experiments import load_experiment
from mmgen_det.experiments.runner import WORK_DIR_LOCK, ExperimentRunner

#: the dataset of the dry-run tests: 1200x675 frames, explicit splits; per test image, its boxes
REEF_CLASSES = ['moray eel', 'krill']
REEF_FRAME = (1200, 675)
EEL = (0, 150, 100)  # class index, box width and height in px
KRILL = (1, 6, 6)  # under 16 px at any CPU scale: the long side is capped at 960
REEF_TEST = [[EEL, EEL]] * 5 + [[EEL, EEL, KRILL]] + [[KRILL]] * 2  # 12 eel boxes in 6 images, 3 krill in 3
REEF_OTHER = {'train': 12, 'valid': 4}  # images of each with one eel and one krill


def write_yolo_split(root: Path, split: str, images: list[list[tuple[int, int, int]]], first_seed: int) -> None:
    """``root/<split>/images`` + ``labels``: image i holds the boxes ``images[i]`` (class, w, h in px), spread
    along its diagonal so none overlaps."""
    w, h = REEF_FRAME
    for i, boxes in enumerate(images):
        write_image(root / split / 'images' / f'{i:03d}.jpg', REEF_FRAME, first_seed + i)
        lines = [f'{c} {(k + 1) / (len(boxes) + 1):.5f} {(k + 1) / (len(boxes) + 1):.5f} {bw / w:.5f} {bh / h:.5f}'
                 for k, (c, bw, bh) in enumerate(boxes)]
        (root / split / 'labels').mkdir(parents=True, exist_ok=True)
        (root / split / 'labels' / f'{i:03d}.txt').write_text('\n'.join(lines) + '\n')


def reef_dataset(root: Path) -> None:
    write_yolo_split(root, 'test', REEF_TEST, 0)
    for seed, (split, n) in enumerate(REEF_OTHER.items(), start=1):
        write_yolo_split(root, split, [[EEL, KRILL]] * n, 100 * seed)
    (root / 'data.yaml').write_text(f'train: train/images\nval: valid/images\ntest: test/images\n'
                                    f'nc: {len(REEF_CLASSES)}\nnames: {REEF_CLASSES!r}\n')


def run(command, argv: list[str]) -> str:
    """A command's stdout, run in this process."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        command(argv)
    return out.getvalue()


def refusal(command, argv: list[str]) -> str:
    """The message a refused command exits with."""
    with pytest.raises(SystemExit) as stopped:
        run(command, argv)
    return str(stopped.value.code)


def files_under(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` but the work dir's lock, which names its holder by design."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob('*'))
            if p.is_file() and p.name != WORK_DIR_LOCK}


def reef_command(tmp: Path) -> list[str]:
    return ['--data', str(tmp / 'reef' / 'data.yaml'), '--work-dir', str(tmp / 'work'), '--device', 'cpu', '--arms',
            'real-only', '--dry-run']


@pytest.fixture(scope='module')
def reef_dry_run(tmp_path_factory) -> tuple[str, dict[str, int], Path]:
    """``run_experiment --data <reef> --dry-run`` on a CPU: its stdout, how often each image was decoded, and
    the folder holding the dataset and the work dir (:func:`reef_command`)."""
    tmp = tmp_path_factory.mktemp('reef')
    reef_dataset(tmp / 'reef')
    decoded: dict[str, int] = {}
    decode = common.decode_image

    def counted(path: Path):
        decoded[str(path)] = decoded.get(str(path), 0) + 1
        return decode(path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(common, 'decode_image', counted)
        out = run(run_cli.main, reef_command(tmp))
    return out, decoded, tmp


# -- a refused command leaves nothing behind -----------------------------------------------------------
#: refused options and their correction; the refusal's message must match the pattern
REFUSALS = {
    'N above the training split': (['--num-real', '500'], ['--num-real', 'all'],
                                   r"has only (\d+) images: ask for 'all' \(its \1 images\) or at most \1"),
    'a negative seed': (['--seeds', '-1'], ['--seeds', '1'], r'seeds must be .* >= 0, got \[-1\]'),
    'a control without a generated-data arm': (['--arms', 'real-only', 'compute-matched'], ['--arms', 'real-only'],
                                               'the compute-matched arm is matched to a generated-data arm'),
    'GLIGEN on a CPU': (['--generator', 'gligen-text'], ['--generator', 'gligen-text', '--allow-cpu-gligen'],
                        r'gligen-text on a CPU: generating \d+ images .* about [\d.]+ CPU hours .*--allow-cpu-gligen'),
}


@pytest.mark.parametrize('case', sorted(REFUSALS))
def test_a_refused_command_leaves_nothing_and_its_correction_just_works(case, tmp_path):
    refused, corrected, message = REFUSALS[case]
    src = yolo_folder(tmp_path / 'tide pool', ['limpet', 'barnacle', 'sea urchin'], (400, 300), 0.15, 24)
    work = tmp_path / 'work'
    command = ['--data', str(src), '--work-dir', str(work), '--device', 'cpu', '--dry-run']
    text = refusal(run_cli.main, [*command, *refused])
    assert re.search(message, text), text
    assert not work.exists(), f'the refused command left {sorted(files_under(work)) if work.is_dir() else work}'
    out = run(run_cli.main, [*command, *corrected])
    assert 'run_experiment --dry-run:' in out and (work / 'experiment.py').is_file()


def test_the_refusal_of_a_larger_n_names_the_largest_that_fits(tmp_path):
    src = yolo_folder(tmp_path / 'tide pool', ['limpet', 'barnacle'], (400, 300), 0.15, 30)
    command = ['--data', str(src), '--work-dir', str(tmp_path / 'work'), '--device', 'cpu', '--dry-run']
    largest = int(re.search(r'at most (\d+)', refusal(run_cli.main, [*command, '--num-real', '500'])).group(1))
    out = run(run_cli.main, [*command, '--num-real', str(largest), 'all'])
    assert f'N={largest}: {largest} real training images' in out and f'N=all: {largest} real' in out


def test_a_detector_without_its_checkpoint_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no checkpoints/resnet50_imagenet.pth here
    src = yolo_folder(tmp_path / 'harbour', ['buoy', 'gull'], (400, 300), 0.15, 24)
    work = tmp_path / 'work'
    command = ['--data', str(src), '--work-dir', str(work), '--device', 'gpu', '--dry-run']
    text = refusal(run_cli.main, [*command, '--detector', 'faster-rcnn-r50'])
    assert '--detector faster-rcnn-r50' in text and 'resnet50_imagenet.pth' in text, text
    assert not work.exists()
    run(run_cli.main, [*command, '--detector', 'fcos-lite2'])
    assert json.loads((work / 'data_profile.json').read_text())['detector'] == 'fcos-lite2'


def test_a_data_problem_is_refused_before_anything_is_written(tmp_path):
    src = yolo_folder(tmp_path / 'harbour', ['buoy', 'gull'], (400, 300), 0.15, 24)
    label = src / 'labels' / 'frame 005.txt'
    good = label.read_text()
    label.write_text('7 0.5 0.5 0.1 0.1\n')  # class 7 of 2
    work = tmp_path / 'work'
    command = ['--data', str(src), '--work-dir', str(work), '--device', 'cpu', '--dry-run']
    assert 'frame 005.txt' in refusal(run_cli.main, command)
    assert not work.exists()
    label.write_text(good)
    assert 'run_experiment --dry-run:' in run(run_cli.main, command)


def test_init_experiment_refuses_before_writing_too(tmp_path):
    src = yolo_folder(tmp_path / 'harbour', ['buoy', 'gull'], (400, 300), 0.15, 24)
    out = tmp_path / 'exp'
    text = refusal(init_cli.main, [str(src), '--out', str(out), '--device', 'cpu', '--generator', 'gligen-image'])
    assert 'gligen-image on a CPU' in text and not out.exists()
    run(init_cli.main, [str(src), '--out', str(out), '--device', 'cpu', '--generator', 'gligen-image',
                        '--allow-cpu-gligen'])
    assert json.loads((out / 'init_args.json').read_text())['allow_cpu_gligen'] is True


def test_a_refused_reinit_leaves_the_folder_as_it_was(tmp_path):
    src = yolo_folder(tmp_path / 'harbour', ['buoy', 'gull'], (400, 300), 0.15, 24)
    work = tmp_path / 'work'
    command = ['--data', str(src), '--work-dir', str(work), '--device', 'cpu', '--dry-run']
    run(run_cli.main, command)
    before = files_under(work)
    assert 'at most' in refusal(run_cli.main, [*command, '--reinit', '--num-real', '500'])
    assert files_under(work) == before


def test_gligen_on_a_cpu_is_refused_with_the_estimate_the_dry_run_then_shows(tmp_path):
    src = yolo_folder(tmp_path / 'harbour', ['buoy', 'gull'], (400, 300), 0.15, 24)
    command = ['--data', str(src), '--work-dir', str(tmp_path / 'work'), '--device', 'cpu', '--generator',
               'gligen-text', '--dry-run']
    hours = float(re.search(r'about ([\d.]+) CPU hours', refusal(run_cli.main, command)).group(1))
    out = run(run_cli.main, [*command, '--allow-cpu-gligen'])
    generate = next(line for line in out.splitlines() if line.startswith('generate '))
    assert hours > 1 and abs(float(generate.split()[-1]) - hours) <= 0.05, (hours, generate)
    assert json.loads((tmp_path / 'work' / 'init_args.json').read_text())['allow_cpu_gligen'] is True


# -- what the dry run tells ------------------------------------------------------------------------------
def test_the_dry_run_decodes_each_image_once(reef_dry_run):
    _, decoded, _ = reef_dry_run
    assert len(decoded) == len(REEF_TEST) + sum(REEF_OTHER.values())
    assert set(decoded.values()) == {1}, {p: n for p, n in decoded.items() if n > 1}


def test_the_dry_run_counts_test_boxes_per_class_and_says_which_can_tell(reef_dry_run):
    out, _, _ = reef_dry_run
    assert 'test split (what every mAP of the report is measured on): 8 images, 15 boxes' in out
    eel = next(line for line in out.splitlines() if line.strip().startswith("'moray eel'"))
    krill = next(line for line in out.splitlines() if line.strip().startswith("'krill'"))
    assert eel.split()[2:4] == ['12', '6'] and 'maybe' in eel, eel
    assert krill.split()[1:3] == ['3', '3'] and 'too few test boxes to tell' in krill, krill


def test_the_dry_run_estimates_the_smallest_difference_and_says_how(reef_dry_run):
    out, _, _ = reef_dry_run
    worst = 1.959964 * math.sqrt(0.25 / 12 + 0.25 / 3) / 2  # binomial worst case of the mean AP over 2 classes
    assert f'can tell from noise: about {0.25 * worst:.2f}-{0.6 * worst:.2f}' in out, out
    assert 'binomial proportion of its test boxes' in out and 'paired intervals' in out


def test_the_dry_run_names_objects_too_small_at_the_input_scale(reef_dry_run):
    out, _, _ = reef_dry_run
    krill = 3 + sum(REEF_OTHER.values())
    line = next(line for line in out.splitlines() if line.startswith('small objects:'))
    assert f"{krill} of {krill + 12 + sum(REEF_OTHER.values())} boxes are under 16 px" in line, line
    assert f"'krill' {krill} of {krill} (100%)" in line and 'moray eel' not in line, line
    assert 'to keep them:' in out and '--device gpu' in out


def test_the_dry_run_says_what_its_hours_are_estimated_from(reef_dry_run):
    out, _, _ = reef_dry_run
    basis = next(line for line in out.splitlines() if line.startswith('est. h:'))
    assert "at CPU rates (the CPU recipe's" in basis and 's per training iteration' in basis, basis
    assert re.search(r'this dry run ran on \d+ CPU cores, (no CUDA GPU|CUDA GPU \S)', basis), basis


def test_once_the_data_is_converted_the_dry_run_tells_the_same(reef_dry_run):
    """A rerun finds the data stage cached and reads the converted files instead of the plan."""
    out, _, tmp = reef_dry_run
    exp = load_experiment(tmp / 'work' / 'experiment.py')
    ExperimentRunner(exp, tmp / 'work', echo=False).data()  # converts: the data stage is then cached
    again = run(run_cli.main, reef_command(tmp))
    other = ('real images:', 'data ', 'run_experiment')  # where the counts come from, the stage cached
    told = [line for line in out.splitlines() if not line.startswith(other)]
    assert 'test split (what' in again and [line for line in again.splitlines() if not line.startswith(other)] == told
