"""File locks: the one home of ``flock`` in the package.

Two kinds, both ``fcntl.flock`` on a lock file, which the system releases when its holder exits,
killed or not, so a lock file left behind never refuses anyone:

- :func:`locked_open`, a short critical section (a manifest append, a read-modify-write of
  ``annotations.json``): it waits for the other holder.
- :class:`FolderLock`, one run's claim on a folder for its whole run (a set being generated, a work
  dir): it refuses at once, and its message names the holder, which the lock file records.

Lock files are never deleted: one removed while another process waits on it would let a third
process lock a new file of the same name, and two runs would hold "the" lock.
"""
from __future__ import annotations

import fcntl
import os
import shlex
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from .io import PathLike


@contextmanager
def locked_open(path: PathLike, mode: str = 'a', buffering: int = -1) -> Iterator[IO]:
    """Open ``path`` and hold an exclusive ``flock`` on it for the block, waiting for other holders."""
    with open(path, mode, buffering=buffering) as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield f
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


class FolderBusyError(RuntimeError):
    """Another process holds a folder's lock."""


def holder_line() -> str:
    """Who takes a lock, as its refusal shows it: pid, host, start time and command line."""
    started = time.strftime('%Y-%m-%d %H:%M:%S %Z')
    return f'pid {os.getpid()} on {os.uname().nodename}, started {started}, command: {shlex.join(sys.argv)}'


class FolderLock:
    """Exclusive, non-blocking ``flock`` on ``FOLDER/NAME`` while one run writes the folder.

    A second run refuses at once with ``error``: ``FOLDER is being written by WHAT (holder); FIX``.
    Taken by the process that launches a run (rank 0), never by the processes it starts, so none of
    them waits on it. Use as a context manager, or :meth:`acquire` / :meth:`release`.
    """

    def __init__(self, folder: PathLike, name: str, what: str, fix: str,
                 error: type[FolderBusyError] = FolderBusyError) -> None:
        self.path = Path(folder) / name
        self.what, self.fix, self.error = what, fix, error
        self.file: IO | None = None

    def acquire(self) -> 'FolderLock':
        """Take the lock (creating the folder), or raise ``error`` naming the holder; no-op when held."""
        if self.file is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, 'a+')
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or 'holder unknown'
            f.close()
            raise self.error(f'{self.path.parent} is being written by {self.what} ({holder}); '
                             f'{self.fix}') from None
        f.truncate(0)
        f.write(holder_line())
        f.flush()
        self.file = f
        return self

    def release(self) -> None:
        if self.file is not None:
            fcntl.flock(self.file.fileno(), fcntl.LOCK_UN)
            self.file.close()
            self.file = None

    def __enter__(self) -> 'FolderLock':
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
