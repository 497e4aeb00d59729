"""File I/O that never leaves a half-written file behind.

Every output of the package goes through :func:`atomic_write`: the bytes land in a temporary file in
the destination folder, are flushed to disk, and only then renamed over the target, so a reader (or a
resumed run after a crash) sees either the old file, the whole new file, or nothing. Outputs get the
permissions the user's umask gives a new file or folder (:func:`umask_mode`), not the private ones
``tempfile`` creates its files and folders with: a gallery or a converted set is meant to be shared.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Union

PathLike = Union[str, os.PathLike]

TMP_PREFIX = '.tmp-'


@contextmanager
def atomic_write(path: PathLike, mode: str = 'wb') -> Iterator[Any]:
    """Open a temporary file beside ``path``; rename it onto ``path`` only if the block succeeds.
    Text is UTF-8 whatever the locale (class names are any Unicode)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + path.name + '.', dir=path.parent)
    try:
        os.fchmod(fd, umask_mode())
        with os.fdopen(fd, mode, **({} if 'b' in mode else {'encoding': 'utf-8'})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise naming(e, path)
        raise


def current_umask() -> int:
    """The process's umask, read without changing it where the system says it (Linux 4.7+): setting
    it to read it back would briefly change it for every thread of the process."""
    try:
        with open('/proc/self/status') as f:
            found = re.search(r'^Umask:\s*([0-7]+)', f.read(), re.MULTILINE)
        if found:
            return int(found.group(1), 8)
    except OSError:
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def umask_mode(folder: bool = False) -> int:
    """The mode ``open()`` or ``mkdir()`` would give a new file (or folder) under the user's umask."""
    return (0o777 if folder else 0o666) & ~current_umask()


def make_temp_dir(prefix: str, parent: PathLike) -> Path:
    """``tempfile.mkdtemp`` in ``parent`` with the mode of a folder the user makes (mkdtemp's is 0700):
    the folder is renamed into place as an output."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    folder.chmod(umask_mode(folder=True))
    return folder


def naming(error: OSError, path: PathLike) -> OSError:
    """``error`` with ``path`` as its file name when it names none.

    ``write()`` and ``fsync()`` errors (ENOSPC on a full disk, EIO) name no file; in a folder of
    thousands of images the message must say which write failed.
    """
    if error.filename is not None or error.errno is None:
        return error
    named = OSError(error.errno, error.strerror, str(path))  # same subclass: OSError maps the errno
    named.__cause__ = error
    return named


def atomic_write_json(path: PathLike, obj: Any, indent: int | None = None) -> None:
    """Serialise ``obj`` first (so an unserialisable object writes nothing), then write atomically."""
    text = json.dumps(obj, indent=indent, ensure_ascii=False)
    with atomic_write(path, 'w') as f:
        f.write(text)


def read_json(path: PathLike) -> Any:
    """Read a JSON file; a missing, empty or malformed file raises an error that names it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'{path}: no such file')
    text = path.read_text(encoding='utf-8')
    if not text.strip():
        raise ValueError(f'{path}: the file is empty (0 bytes of JSON); regenerate or replace it')
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f'{path}: malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}') from None


def safe_join(root: PathLike, relative: str, what: str = 'file_name') -> Path:
    """Join ``relative`` under ``root``, refusing absolute paths and ``..`` that climb out of it.

    The check is lexical (no file system calls): it runs once per image of sets with 100,000s of
    images, and a data root whose ``images/`` is a symlink to another disk stays valid.
    """
    if not relative or os.path.isabs(relative) or Path(relative).drive:
        raise ValueError(f'{what} {relative!r} must be a relative path inside {root}')
    normalised = os.path.normpath(relative)
    if normalised == os.pardir or normalised.startswith(os.pardir + os.sep):
        raise ValueError(f'{what} {relative!r} escapes the data root {root}; '
                         'file names must stay inside it (no "../")')
    return Path(root) / relative
