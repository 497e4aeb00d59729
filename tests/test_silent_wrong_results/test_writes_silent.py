"""Nothing is overwritten or deleted that the tools did not write; nothing is called done that is not there.

- An experiment folder is written only into an empty or new folder, or one that init made: a user's
  folder holding an ``experiment.py`` or a ``configs/detector.py`` had them replaced.
- Generation's cleanup deleted a user's ``images/000000123.jpg`` because it had the writer's name pattern.
- A finished set with an image deleted (or cut short) reported every image "already done".
- Two ``run_experiment`` on one work dir at once: one died with ``FileNotFoundError``, the other went on.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, write_image, yolo_folder
from PIL import Image
from synthetic_sets import assert_complete_set

from mmgen_det.cli import init_experiment as init_cli
from mmgen_det.cli import run_experiment as run_cli
from mmgen_det.generation import generate_synthetic_set
from mmgen_det.generation.writer import LOCK

INJECT = str(REPO / 'tests' / 'fault_injection.py')


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``root`` but a run lock (it names its holder by design): path -> (content, mtime)."""
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob('*')) if p.is_file() and p.name != LOCK}


def dataset(root: Path) -> Path:
    return yolo_folder(root, ['kelp', 'crab'], (320, 240), 0.1, 12)


def copy_paste(fish_coco: Path, out: Path, num_images: int) -> dict:
    ann = str(fish_coco / 'annotations' / 'train.json')
    return dict(out_dir=str(out), num_images=num_images, seed=0, batch_size=2, image_format='png',
                layout=dict(ann_file=ann, strategy='jitter', width=120, height=64, min_box_cells=0.5),
                generator=dict(type='copy_paste', ann_file=ann, img_root=str(fish_coco)))


def exit_message(command) -> str:
    with pytest.raises(SystemExit) as stopped:
        command()
    return str(stopped.value.code)


def test_init_refuses_a_folder_it_did_not_make(tmp_path):
    src = dataset(tmp_path / 'data')
    theirs = tmp_path / 'theirs'  # someone's folder with files of an experiment folder's names
    (theirs / 'configs').mkdir(parents=True)
    (theirs / 'experiment.py').write_text('# my own sweep\n')
    (theirs / 'configs' / 'detector.py').write_text('# my detector\n')
    (theirs / 'data_profile.json').write_text('{"mine": true}\n')
    (theirs / 'notes.txt').write_text('do not delete\n')
    before = snapshot(theirs)
    run = ['--data', str(src), '--work-dir', str(theirs), '--device', 'cpu', '--dry-run']
    for command in ([init_cli.main, [str(src), '--out', str(theirs), '--device', 'cpu']],
                    [run_cli.main, run], [run_cli.main, [*run, '--reinit']]):
        message = exit_message(lambda: command[0](command[1]))
        assert f'{theirs} is not empty and was not made by init_experiment' in message, message
        assert 'experiment.py' in message and 'choose an empty or new folder' in message, message
        assert snapshot(theirs) == before, command[1]

    # an empty folder is written; then the folder it made is reused, and --reinit rewrites it
    ours = tmp_path / 'ours'
    ours.mkdir()
    init_cli.main([str(src), '--out', str(ours), '--device', 'cpu'])
    assert (ours / 'experiment.py').is_file()
    run_cli.main(['--data', str(src), '--work-dir', str(ours), '--device', 'cpu', '--seeds', '1', '--reinit',
                  '--dry-run'])
    assert "seeds = [1]" in (ours / 'experiment.py').read_text()


def test_generation_deletes_and_replaces_only_files_its_manifest_names(tmp_path, fish_coco):
    out = tmp_path / 'set'
    generate_synthetic_set(copy_paste(fish_coco, out, 2), progress=False)
    for index in (2, 123):  # someone's images with the writer's file names: one where image 2 would go
        write_image(out / 'images' / f'{index:09d}.png', (40, 30), index)
    (out / 'images' / '.tmp-000000001.png.a1b2').write_bytes(b'')  # a write of this writer, interrupted
    before = snapshot(out)
    with pytest.raises(RuntimeError) as refused:
        generate_synthetic_set(copy_paste(fish_coco, out, 3), progress=False)
    message = str(refused.value)
    assert f'{out / "images"}' in message and '000000002.png' in message and '000000123.png' not in message
    assert 'not listed in manifest.jsonl' in message and 'move' in message, message
    assert snapshot(out) == before, 'the refused run changed the set folder'

    theirs = (out / 'images' / '000000002.png').rename(tmp_path / 'theirs.png')
    summary = generate_synthetic_set(copy_paste(fish_coco, out, 3), progress=False)
    assert (summary.already_done, summary.generated_now, summary.orphans_removed) == (2, 1, 1)
    assert (out / 'images' / '000000123.png').read_bytes() == before['images/000000123.png'][0]
    assert theirs.read_bytes() == before['images/000000002.png'][0]
    assert not list(out.rglob('.tmp-*'))


def test_a_finished_set_with_a_missing_or_cut_image_makes_it_again(tmp_path, fish_coco):
    out = tmp_path / 'set'
    cfg = copy_paste(fish_coco, out, 3)
    generate_synthetic_set(cfg, progress=False)
    written = {p.name: np.asarray(Image.open(p)) for p in (out / 'images').iterdir()}
    (out / 'images' / '000000001.png').unlink()
    cut = out / 'images' / '000000002.png'
    cut.write_bytes(cut.read_bytes()[:200])  # a copy that stopped half-way
    with pytest.warns(UserWarning, match=r'2 images listed in manifest\.jsonl are missing or not the size'):
        summary = generate_synthetic_set(cfg, progress=False)
    assert (summary.already_done, summary.generated_now) == (1, 2), summary.line()
    assert '2 missing or cut short on disk made again' in summary.line()
    assert_complete_set(out, 3)
    for name, pixels in written.items():  # image i comes from its own seed: made again exactly
        np.testing.assert_array_equal(np.asarray(Image.open(out / 'images' / name)), pixels, err_msg=name)


def test_a_second_run_on_a_work_dir_in_use_is_refused_and_the_first_goes_on(tmp_path):
    src = dataset(tmp_path / 'data')
    work = tmp_path / 'work'
    options = ['--data', str(src), '--work-dir', str(work), '--device', 'cpu', '--num-real', '4',
               '--arms', 'synthetic-pretrain']
    with open(tmp_path / 'first.err', 'w') as err:  # the first run hangs at its first generated image
        first = subprocess.Popen([sys.executable, INJECT, 'hang-write', '1', '--', 'tools/run_experiment.py',
                                  *options, '--verbose'], cwd=REPO, stdout=subprocess.PIPE, stderr=err,
                                 text=True, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    try:
        for line in first.stdout:
            if line.strip() == 'fault_injection: hanging':
                break
        else:
            errors = (tmp_path / 'first.err').read_text()[-3000:]
            pytest.fail(f'the first run ended ({first.wait()}) before its first image: {errors}')
        before = snapshot(work)
        message = exit_message(lambda: run_cli.main([*options, '--dry-run']))
        assert f'{work} is being written by another run_experiment (pid {first.pid} on ' in message, message
        assert 'started' in message and 'tools/run_experiment.py --data' in message, message
        assert 'another --work-dir' in message, message
        assert first.poll() is None and snapshot(work) == before, 'the refused run touched the first one'
    finally:
        first.kill()
        first.wait()
    # the lock went with its holder: the file it leaves refuses nothing
    run_cli.main([*options, '--dry-run'])
