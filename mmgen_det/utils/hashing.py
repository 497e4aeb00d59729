"""Content hashes of files and folders, for keys that must change whenever what they stand for does.

A folder's digest covers every file's relative path and bytes: an edit in place that keeps the size
(a label ``3`` -> ``4``) changes it, which a digest of names and sizes would miss.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

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


def _hidden(relative: Path) -> bool:
    return any(name.startswith('.') for name in relative.parts)


def _read_cache(cache_file: PathLike | None) -> dict:
    """The recorded stamps and digests; a missing or unreadable cache is an empty one."""
    if cache_file is None or not Path(cache_file).is_file():
        return {}
    try:
        return read_json(cache_file)
    except ValueError:
        return {}


def tree_digest(root: PathLike, cache_file: PathLike | None = None) -> str:
    """Digest of every file under ``root``: relative paths and contents. Hidden files and folders
    (``.git``, ``.DS_Store``, lock files) are left out: they are no part of a dataset or a model.

    With ``cache_file`` (a JSON file), a file whose size, mtime, ctime and inode are the ones recorded
    there is not read again, and the file is updated with what was hashed; the digest is the same
    with or without it.
    """
    root = Path(root).resolve()
    cache = _read_cache(cache_file)
    hashed = {}
    entries = []
    files = (p for p in root.rglob('*') if p.is_file() and not _hidden(p.relative_to(root)))
    for path in sorted(files):
        stamp = _stamp(path.stat())
        known = cache.get(str(path))
        digest = known[1] if known is not None and known[0] == stamp else file_digest(path)
        hashed[str(path)] = [stamp, digest]
        entries.append(f'{path.relative_to(root).as_posix()}:{digest}')
    if cache_file is not None:
        inside = str(root) + os.sep
        kept = {k: v for k, v in cache.items() if not k.startswith(inside)}
        atomic_write_json(cache_file, {**kept, **hashed})
    return hashlib.blake2b('\n'.join(entries).encode()).hexdigest()
