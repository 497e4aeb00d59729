"""File locks: the one home of ``flock`` in the package.

All are ``fcntl.flock``, which the system releases when its holder exits, killed or not, so a
file left behind by a kill never refuses anyone:

- :func:`locked_open`, a short critical section on a data file itself (a manifest append): it waits
  for the other holder.
- :func:`merge_lock`, a short critical section guarded by a lock file of its own (a read-modify-write
  of ``annotations.json``): it waits too.
- :class:`FolderLock`, one run's claim on a folder for its whole run (a set being generated, a work
  dir): it refuses at once, and its message names the holder, which the lock file records.

A lock file is deleted by its holder on release, so a finished run leaves nothing behind. Deleting is
safe because a taker checks, once it holds the lock, that the name still leads to the file it locked
(:func:`_take`): one that locked a file just deleted by the previous holder opens the name again,
instead of holding a lock no one else can see.
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


def _take(path: Path, blocking: bool) -> IO | None:
    """Open ``path`` (created if missing) and ``flock`` it; None when ``blocking`` is False and another
    process holds it. Retries while the name no longer leads to the locked file (its holder deleted it)."""
    while True:
        f = open(path, 'a+')
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            f.close()
            return None
        try:
            if os.stat(path).st_ino == os.fstat(f.fileno()).st_ino:
                return f
        except FileNotFoundError:
            pass
        f.close()  # the lock of a file the previous holder deleted: take the name again


def _drop(path: Path, f: IO) -> None:
    """Delete the lock file, then unlock it: a process waiting on it retries on the name (:func:`_take`)."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    f.close()


@contextmanager
def merge_lock(path: PathLike) -> Iterator[None]:
    """Hold the lock file ``path`` for the block, waiting for other holders; deleted afterwards."""
    f = _take(Path(path), blocking=True)
    try:
        yield
    finally:
        _drop(Path(path), f)


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
        f = _take(self.path, blocking=False)
        if f is None:
            try:
                holder = self.path.read_text().strip()
            except FileNotFoundError:  # released since
                holder = ''
            raise self.error(f'{self.path.parent} is being written by {self.what} ({holder or "holder unknown"}); '
                             f'{self.fix}')
        f.truncate(0)
        f.write(holder_line())
        f.flush()
        self.file = f
        return self

    def release(self) -> None:
        """Unlock and delete the lock file: a finished run leaves nothing behind."""
        if self.file is not None:
            _drop(self.path, self.file)
            self.file = None

    def __enter__(self) -> 'FolderLock':
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
