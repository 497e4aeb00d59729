"""Content hashes of files and folders, for keys that must change whenever what they stand for does.

A folder's digest covers every file's relative path and bytes: an edit in place that keeps the size
(a label ``3`` -> ``4``) changes it, which a digest of names and sizes would miss. Symlinked folders
are followed: a file reached through one is read like any other.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .io import PathLike, atomic_write_json, read_json


def file_digest(path: PathLike, algorithm: str = 'blake2b') -> str:
    """``algorithm`` (a ``hashlib`` name; blake2b, the fastest) hex digest of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.new(algorithm)
    with open(path, 'rb') as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: PathLike) -> str:
    """sha256 of a file: the identity of a checkpoint or annotation file stored in records, keys and logs."""
    return file_digest(path, 'sha256')


def _stamp(stat: os.stat_result) -> list[int]:
    # ctime moves with every write and cannot be set back (touch, cp -p and rsync set mtime only),
    # so an unchanged stamp means unchanged bytes; git's index relies on the same fields
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]


def _read_cache(cache_file: PathLike | None) -> dict:
    """The recorded stamps and digests; a missing or unreadable cache is an empty one."""
    if cache_file is None or not Path(cache_file).is_file():
        return {}
    try:
        return read_json(cache_file)
    except ValueError:
        return {}


def _walk(top: str, follow: bool, seen: set[str], links: list[str]) -> list[Path]:
    """The files under ``top``, each real folder once (``seen``: their real paths), hidden ones left out;
    without ``follow``, the symlinked folders met are added to ``links``."""
    files = []
    for folder, dirs, names in os.walk(top, followlinks=follow):
        real = os.path.realpath(folder)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
        if not follow:
            links += [os.path.join(folder, d) for d in dirs if os.path.islink(os.path.join(folder, d))]
        files += [Path(folder, name) for name in names if not name.startswith('.')]
    return files


def tree_files(root: PathLike) -> list[Path]:
    """The files under ``root`` as :func:`tree_digest` sees them, sorted: its own folders first, then
    the symlinked folders that lead elsewhere (each real folder once, so a link back up ends), hidden
    files and folders left out."""
    seen: set[str] = set()
    links: list[str] = []
    files = _walk(str(Path(root).resolve()), False, seen, links)
    for link in sorted(links):
        files += _walk(link, True, seen, [])
    return sorted(path for path in files if path.is_file())


def _digests(paths: Sequence[Path], cache_file: PathLike | None, stale: Callable[[str], bool]) -> list[str]:
    """Content digests of ``paths``; with ``cache_file``, through the stamp cache, whose entries that
    ``stale`` names and that were not hashed now are dropped."""
    cache = _read_cache(cache_file)
    hashed = {}
    for path in paths:
        stamp = _stamp(path.stat())
        known = cache.get(str(path))
        digest = known[1] if known is not None and known[0] == stamp else file_digest(path)
        hashed[str(path)] = [stamp, digest]
    if cache_file is not None:
        atomic_write_json(cache_file, {**{k: v for k, v in cache.items() if not stale(k)}, **hashed})
    return [hashed[str(p)][1] for p in paths]


def tree_digest(root: PathLike, cache_file: PathLike | None = None) -> str:
    """Digest of every file under ``root`` (:func:`tree_files`: through symlinked folders, which a
    dataset's ``labels/`` may be): relative paths and contents. Hidden files and folders (``.git``,
    ``.DS_Store``, lock files) are left out: they are no part of a dataset or a model.

    With ``cache_file`` (a JSON file), a file whose size, mtime, ctime and inode are the ones recorded
    there is not read again, and the file is updated with what was hashed; the digest is the same
    with or without it.
    """
    root = Path(root).resolve()
    files = tree_files(root)
    inside = str(root) + os.sep
    digests = _digests(files, cache_file, lambda name: name.startswith(inside))
    entries = [f'{path.relative_to(root).as_posix()}:{digest}' for path, digest in zip(files, digests)]
    return hashlib.blake2b('\n'.join(entries).encode()).hexdigest()


def files_digest(paths: Iterable[PathLike], root: PathLike, cache_file: PathLike | None = None) -> str:
    """Digest of the files ``paths`` (given once or more, in any order): their paths relative to ``root``
    (``../`` for files outside it) and contents; ``cache_file`` as in :func:`tree_digest`."""
    files = sorted({Path(os.path.abspath(p)) for p in paths})
    digests = _digests(files, cache_file, lambda name: False)
    entries = [f'{Path(os.path.relpath(path, root)).as_posix()}:{digest}'
               for path, digest in zip(files, digests)]
    return hashlib.blake2b('\n'.join(entries).encode()).hexdigest()
