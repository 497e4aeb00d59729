"""Run a Python script and SIGKILL its process at a chosen point of the work.

    python tests/fault_injection.py POINT K [--rank R] -- SCRIPT [ARGS ...]

POINT (K counts from 1, per process):
    after-write     the K-th generated image and its manifest line are on disk
    before-append   the K-th image is in its temporary file; its manifest line is not written yet
    torn-append     half of the K-th manifest line is written and synced; the rest never is
    hang-write      before the K-th image write, sleeps until killed (holding the set's lock)
    train-step      at the start of the K-th training step (mmengine ``BaseModel.train_step``)

Only the process whose ``RANK`` (torchrun's variable; 0 without torchrun) is R dies; torchrun then
stops the others. The kill is a real SIGKILL: no exception handler, ``finally`` or ``atexit`` runs.
"""
from __future__ import annotations

import argparse
import os
import runpy
import signal
import sys
import time

POINTS = ('after-write', 'before-append', 'torn-append', 'hang-write', 'train-step')


def die() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class TornFile:
    """Stands for the manifest opened for append: writes half of what it is given, then dies."""

    def __init__(self, f) -> None:
        self.f = f

    def write(self, data: bytes) -> None:
        self.f.write(data[:len(data) // 2])
        self.f.flush()
        os.fsync(self.f.fileno())
        die()


class TornAppend:
    def __init__(self, locked) -> None:
        self.locked = locked

    def __enter__(self) -> TornFile:
        return TornFile(self.locked.__enter__())

    def __exit__(self, *exc) -> None:
        self.locked.__exit__(*exc)


def install(point: str, k: int) -> None:
    calls = {'n': 0}

    def count() -> bool:
        calls['n'] += 1
        return calls['n'] == k

    if point == 'train-step':
        from mmengine.model import BaseModel
        train_step = BaseModel.train_step

        def killing_train_step(self, *args, **kwargs):
            if count():
                die()
            return train_step(self, *args, **kwargs)

        BaseModel.train_step = killing_train_step
        return

    from mmgen_det.generation.writer import SyntheticSetWriter
    if point in ('after-write', 'hang-write'):
        write = SyntheticSetWriter.write

        def killing_write(self, *args, **kwargs):
            if point == 'hang-write' and count():
                print('fault_injection: hanging', flush=True)
                while True:
                    time.sleep(1)
            record = write(self, *args, **kwargs)
            if point == 'after-write' and count():
                die()
            return record

        SyntheticSetWriter.write = killing_write
    else:
        locked_manifest = SyntheticSetWriter._locked_manifest

        def killing_manifest(self, mode: str):
            if mode == 'ab' and count():
                if point == 'before-append':
                    die()
                return TornAppend(locked_manifest(self, mode))
            return locked_manifest(self, mode)

        SyntheticSetWriter._locked_manifest = killing_manifest


def main() -> None:
    argv = sys.argv[1:]
    split = argv.index('--')
    parser = argparse.ArgumentParser()
    parser.add_argument('point', choices=POINTS)
    parser.add_argument('k', type=int)
    parser.add_argument('--rank', type=int, default=0)
    args = parser.parse_args(argv[:split])
    script, *script_args = argv[split + 1:]
    if int(os.environ.get('RANK', 0)) == args.rank:
        install(args.point, args.k)
    sys.argv = [script, *script_args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    runpy.run_path(script, run_name='__main__')


if __name__ == '__main__':
    main()
