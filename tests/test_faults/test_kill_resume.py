"""tools/generate.py killed with SIGKILL (at deterministic injection points, at a seeded random time,
on 2 ranks resumed on 1 and the reverse, while another run holds the folder) always resumes to the set
of an uninterrupted run: every image, unique ids, decodable files, no temp files, same pixels."""
from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, run_tool
from synthetic_sets import assert_complete_set, assert_same_images, write_gligen_config

NUM_IMAGES = 8
KILLED = -signal.SIGKILL
INJECT = str(REPO / 'tests' / 'fault_injection.py')
ONE_THREAD = {'OMP_NUM_THREADS': '1'}
KILL_TRIES = 5  # runs killed at ever shorter delays until one is interrupted


@pytest.fixture(scope='module')
def tiny_model(tmp_path_factory) -> Path:
    model_dir = tmp_path_factory.mktemp('tiny_gligen') / 'model'
    run_tool(['-m', 'mmgen_det.testing.tiny_gligen', '--out', str(model_dir)])
    return model_dir


@pytest.fixture(scope='module')
def reference(tmp_path_factory, tiny_model, fish_coco) -> tuple[Path, float]:
    """The uninterrupted set (1 process) and the seconds its run took."""
    tmp = tmp_path_factory.mktemp('reference')
    cfg = write_gligen_config(tmp / 'cfg.py', fish_coco, tiny_model, tmp / 'set', NUM_IMAGES)
    start = time.perf_counter()
    run_tool(['tools/generate.py', str(cfg), '--no-progress'], env=ONE_THREAD)
    return tmp / 'set', time.perf_counter() - start


@pytest.fixture
def config(tmp_path, tiny_model, fish_coco) -> Path:
    return write_gligen_config(tmp_path / 'cfg.py', fish_coco, tiny_model, tmp_path / 'set', NUM_IMAGES)


def generate(config: Path, inject: list[str] | None = None, ranks: int = 1, port: int = 29531,
             check: bool = True) -> subprocess.CompletedProcess:
    """tools/generate.py on 1 process or under torchrun, optionally under the fault injector."""
    script = [INJECT, *inject, '--', 'tools/generate.py'] if inject else ['tools/generate.py']
    args = [*script, str(config), '--no-progress']
    if ranks > 1:
        args = ['-m', 'torch.distributed.run', '--nproc-per-node', str(ranks), '--master-port', str(port),
                *args, '--launcher', 'pytorch']
    return run_tool(args, env=ONE_THREAD, check=check)


def manifest_lines(set_dir: Path) -> list[bytes]:
    return (set_dir / 'manifest.jsonl').read_bytes().splitlines(keepends=True)


@pytest.mark.parametrize('point', ['after-write', 'before-append', 'torn-append'])
def test_sigkill_at_an_injection_point_then_resume(point, config, reference, tmp_path):
    set_dir = tmp_path / 'set'
    killed = generate(config, [point, '3'], check=False)
    assert killed.returncode == KILLED, killed.stderr[-2000:]
    assert not (set_dir / 'annotations.json').exists()
    lines = manifest_lines(set_dir)
    images = sorted(p.name for p in (set_dir / 'images').iterdir())
    if point == 'after-write':
        assert len(lines) == 3 and len(images) == 3
    elif point == 'before-append':  # the third image is in its temporary file, its manifest line not written
        assert len(lines) == 2 and len(images) == 3 and images[0].startswith('.tmp-000000002.')
    else:  # half a line: no newline at the end of the manifest
        assert len(lines) == 3 and not lines[-1].endswith(b'\n')

    resumed = generate(config)
    repaired = 1 if point == 'torn-append' else 0
    assert f'{len(lines) - repaired} already done' in resumed.stdout
    assert f'{repaired} torn manifest lines repaired' in resumed.stdout
    assert_complete_set(set_dir, NUM_IMAGES)
    assert_same_images(reference[0], set_dir)


def kill_after(config: Path, set_dir: Path, delay: float) -> bool:
    """Run tools/generate.py and SIGKILL it ``delay`` seconds after its start; whether that interrupted
    the set: the run had not ended and annotations.json, its last write, was not there."""
    proc = subprocess.Popen([sys.executable, 'tools/generate.py', str(config), '--no-progress'], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=delay)
        return False  # finished before the kill
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    return proc.returncode == KILLED and not (set_dir / 'annotations.json').exists()


def test_sigkill_at_a_seeded_random_time_then_resume(config, reference, tmp_path):
    """The kill lands anywhere from interpreter start-up to the final annotations.json write: at a
    seeded fraction of the reference run's time, shortened while runs finish first (a faster machine
    than when the reference ran), so it always interrupts the set."""
    set_dir = tmp_path / 'set'
    delay = float(np.random.default_rng(20261125).uniform(0.2, 1.0)) * reference[1]
    for _ in range(KILL_TRIES):
        if kill_after(config, set_dir, delay):
            break
        shutil.rmtree(set_dir, ignore_errors=True)
        delay /= 2
    else:
        pytest.fail(f'{KILL_TRIES} runs finished before their SIGKILL (the last after {delay * 2:.2f} s): '
                    'nothing was interrupted')
    lines = len(manifest_lines(set_dir)) if (set_dir / 'manifest.jsonl').exists() else 0
    resumed = generate(config)
    already = int(re.search(r'\((\d+) already done', resumed.stdout)[1])
    assert already <= lines < NUM_IMAGES, resumed.stdout  # the last line may be torn
    assert_complete_set(set_dir, NUM_IMAGES)
    assert_same_images(reference[0], set_dir)


def test_two_ranks_killed_then_one_rank_finishes(config, reference, tmp_path):
    killed = generate(config, ['after-write', '2', '--rank', '1'], ranks=2, check=False)
    assert killed.returncode != 0
    assert 0 < len(manifest_lines(tmp_path / 'set')) < NUM_IMAGES
    generate(config)
    assert_complete_set(tmp_path / 'set', NUM_IMAGES)
    assert_same_images(reference[0], tmp_path / 'set')


def test_one_rank_killed_then_two_ranks_finish(config, reference, tmp_path):
    assert generate(config, ['after-write', '3'], check=False).returncode == KILLED
    finished = generate(config, ranks=2, port=29533)
    assert finished.stdout.count('already done') == 2  # both ranks resumed their shard
    assert_complete_set(tmp_path / 'set', NUM_IMAGES)
    assert_same_images(reference[0], tmp_path / 'set')


def test_second_run_on_the_same_folder_refuses_while_the_first_runs(config, reference, tmp_path):
    first = subprocess.Popen([sys.executable, INJECT, 'hang-write', '3', '--', 'tools/generate.py', str(config),
                              '--no-progress'], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True)
    try:
        assert first.stdout.readline().strip() == 'fault_injection: hanging'  # 2 images written, lock held
        second = generate(config, check=False)
        assert second.returncode != 0
        assert 'is being written by another generation run (pid' in second.stderr, second.stderr[-2000:]
        assert len(manifest_lines(tmp_path / 'set')) == 2, 'the refused run wrote to the set'
    finally:
        first.kill()
        first.wait(timeout=60)
    generate(config)  # the lock died with the first run
    assert_complete_set(tmp_path / 'set', NUM_IMAGES)
    assert_same_images(reference[0], tmp_path / 'set')
