"""Write a synthetic set to disk so that any interruption loses at most the images in flight.

The files are those of :mod:`~mmgen_det.generation.set_format`. Each image is written atomically
(temp file + rename), then its line is appended to ``manifest.jsonl``, the resume log;
``generation_config.json`` holds what determines the pixels, so a rerun with other settings refuses to
mix; ``annotations.json`` (COCO) is written once every image is done (by rank 0).

An image counts as done only when its manifest line is complete and its image file exists, so a
crash between the image write and the manifest append just redoes that image. Appends are
serialised with ``flock`` so several ranks can share one manifest; a torn line (crash mid-append)
is detected and dropped, and its image is simply made again.

A set is written only into a new or empty folder or its own (:func:`check_set_folder`), and its
cleanup deletes only file names the writer gives (:data:`OWN_IMAGE`, :data:`OWN_TEMP`): whatever
else a folder holds is someone else's.
"""
from __future__ import annotations

import fcntl
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..layouts import Layout
from ..utils.io import TMP_PREFIX, atomic_write, atomic_write_json, naming, read_json
from .base import GeneratedImage
from .set_format import ANNOTATIONS, CONFIG, GENERATION_KEY, IMAGE_DIR, MANIFEST
from .set_format import GENERATION_LOCK as LOCK
from .set_format import read_annotations  # noqa: F401  (importable from here, where it lived)

IMAGE_FORMATS = {'jpg': 'JPEG', 'png': 'PNG'}

# The names the writer gives images (image_file_name) and its temporary files (atomic_write).
OWN_IMAGE = re.compile(rf'\d{{9,}}\.(?:{"|".join(IMAGE_FORMATS)})')
OWN_TEMP = re.compile(re.escape(TMP_PREFIX) + '(?:' + '|'.join(
    [*map(re.escape, (MANIFEST, CONFIG, ANNOTATIONS)), OWN_IMAGE.pattern]) + r')\..+')


class SettingsMismatchError(RuntimeError):
    """The output folder holds a set made with other settings."""


class ForeignFolderError(RuntimeError):
    """The output folder holds files but no synthetic set."""


def check_set_folder(out_dir: str | os.PathLike) -> None:
    """Refuse a folder that holds files but no set (no ``generation_config.json`` or manifest):
    writing a set there would mix it with someone else's files. The lock and temporary files a
    starting run writes before its config do not count, so ranks starting together all pass."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir() or (out_dir / CONFIG).is_file() or (out_dir / MANIFEST).is_file():
        return
    foreign = sorted(p.name for p in out_dir.iterdir()
                     if p.name != LOCK and not OWN_TEMP.fullmatch(p.name))
    if foreign:
        shown = ', '.join(foreign[:5]) + (f' and {len(foreign) - 5} more' if len(foreign) > 5 else '')
        raise ForeignFolderError(
            f'{out_dir} is not empty and holds no synthetic set (no {CONFIG} or {MANIFEST}; it holds '
            f'{shown}), so no set is written into it. Fix: give a new or empty output folder (--out, '
            "generation.out_dir or the dataset's data_root), or move those files away")


class SetLockedError(RuntimeError):
    """Another generation run is writing the same set folder."""


class SetLock:
    """Exclusive, non-blocking ``flock`` on ``SET/.generation.lock`` for one run's lifetime.

    Taken by rank 0 of a run, so two independent runs on one folder never interleave: the second
    refuses at once. The lock dies with the process (no stale lock files after a kill).
    """

    def __init__(self, out_dir: str | os.PathLike) -> None:
        self.path = Path(out_dir) / LOCK

    def __enter__(self) -> 'SetLock':
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(self.path, 'a+')
        try:
            fcntl.flock(self.f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.f.seek(0)
            holder = self.f.read().strip() or 'unknown'
            self.f.close()
            raise SetLockedError(f'{self.path.parent} is being written by another generation run '
                                 f'({holder}); wait for it to finish, or use another output folder') from None
        self.f.truncate(0)
        self.f.write(f'pid {os.getpid()} on {os.uname().nodename}')
        self.f.flush()
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.f.fileno(), fcntl.LOCK_UN)
        self.f.close()


@dataclass(frozen=True)
class ManifestScan:
    """What a manifest says is done: ``done`` maps index -> file name, plus what had to be repaired."""
    done: dict[int, str]
    torn_lines: int
    missing_images: int


# Every manifest line starts with these two keys (the writer puts them first); resume reads only them,
# so scanning a 100,000-line manifest costs a regex per line instead of a full JSON parse.
LINE_START = re.compile(rb'\{"index": (\d+), "file_name": "(images/\d+\.[a-z]+)"')


def is_whole_line(line: bytes) -> re.Match | None:
    """The line's start match if it is one complete record; ``None`` for a torn line.

    A crash mid-append leaves a line without its newline, and the next append (e.g. by another
    rank) continues that line: such a line holds two record starts, and is rejected as a whole.
    """
    match = LINE_START.match(line)
    if match is None or not line.endswith(b'}\n') or len(LINE_START.findall(line)) != 1:
        return None
    return match


def image_file_name(index: int, image_format: str) -> str:
    return f'{IMAGE_DIR}/{index:09d}.{image_format}'


def settings_diff(old: dict[str, Any], new: dict[str, Any], prefix: str = '') -> list[str]:
    """Human-readable list of the keys whose values differ (nested dicts compared key by key)."""
    diffs = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, '<absent>'), new.get(key, '<absent>')
        if isinstance(a, dict) and isinstance(b, dict):
            diffs += settings_diff(a, b, f'{prefix}{key}.')
        elif a != b:
            diffs.append(f'{prefix}{key}: {a!r} (on disk) != {b!r} (now)')
    return diffs


class SyntheticSetWriter:
    """Appends generated images to a set folder; :meth:`finalize` turns the manifest into COCO.

    Args:
        out_dir: the set folder (created if needed).
        settings: everything that determines the images (JSON-serialisable; see
            ``synthetic_set.generation_settings``); compared with an existing ``generation_config.json``
            so a set never mixes two settings.
        categories: COCO categories (``id``, ``name``) of the real data the layouts came from.
        image_format: 'jpg' or 'png'.
        jpeg_quality: JPEG quality when ``image_format='jpg'``.
    """

    def __init__(self, out_dir: str | os.PathLike, settings: dict[str, Any],
                 categories: list[dict[str, Any]], image_format: str = 'jpg',
                 jpeg_quality: int = 95) -> None:
        if image_format not in IMAGE_FORMATS:
            raise ValueError(f'image_format must be one of {sorted(IMAGE_FORMATS)}, got {image_format!r}')
        self.out_dir = Path(out_dir)
        self.settings = json.loads(json.dumps(settings))  # normalise tuples etc. as JSON would
        self.categories = [dict(id=int(c['id']), name=str(c['name'])) for c in categories]
        self.cat_ids = {c['name']: c['id'] for c in self.categories}
        self.image_format = image_format
        self.jpeg_quality = jpeg_quality

    # -- settings ---------------------------------------------------------------------------------
    def check_settings(self, ignore: Iterable[str] = ()) -> bool:
        """Refuse if ``generation_config.json`` holds other settings than ours, top-level keys in
        ``ignore`` aside; ``False`` when there is none yet."""
        path = self.out_dir / CONFIG
        if not path.exists():
            return False
        ignore = set(ignore)
        old = {k: v for k, v in read_json(path).items() if k not in ignore}
        diffs = settings_diff(old, {k: v for k, v in self.settings.items() if k not in ignore})
        if diffs:
            raise SettingsMismatchError(
                f'{self.out_dir} holds a synthetic set made with other settings, which would mix two sets:\n  '
                + '\n  '.join(diffs)
                + f'\nResume it with the settings in its {CONFIG} (same generator, model revision or weights, '
                'device class and dtype), use another output folder, or delete this one to regenerate it.')
        return True

    def add_settings(self, **settings: Any) -> None:
        """Settings known only later, e.g. what the generator resolved when it loaded."""
        self.settings.update(json.loads(json.dumps(settings)))

    def check_or_write_settings(self) -> None:
        """Write ``generation_config.json``, or refuse if the folder holds a set made otherwise."""
        if not self.check_settings():
            atomic_write_json(self.out_dir / CONFIG, self.settings, indent=2)

    # -- resume -----------------------------------------------------------------------------------
    def scan(self, repair: bool = True) -> ManifestScan:
        """Which images are done: a whole manifest line AND the image file on disk.

        With ``repair``, torn lines (a crash mid-append) are removed from the manifest atomically.
        """
        path = self.out_dir / MANIFEST
        if not path.exists():
            return ManifestScan({}, 0, 0)
        done: dict[int, str] = {}
        with self._locked_manifest('r+b') as f:
            lines = f.read().splitlines(keepends=True)
            whole = []
            for line in lines:
                match = is_whole_line(line)
                if match is not None:
                    whole.append(line)
                    done[int(match[1])] = match[2].decode()
            torn = len(lines) - len(whole)
            if repair and torn:
                with atomic_write(path) as out:
                    out.write(b''.join(whole))
        on_disk = set(os.listdir(self.out_dir / IMAGE_DIR)) if (self.out_dir / IMAGE_DIR).is_dir() else set()
        missing = [i for i, name in done.items() if name.rsplit('/', 1)[-1] not in on_disk]
        for index in missing:
            del done[index]
        return ManifestScan(done, torn, len(missing))

    def read_records(self, indices: Iterable[int]) -> dict[int, dict[str, Any]]:
        """Full manifest records of ``indices`` (the last whole line of each index wins)."""
        wanted = set(indices)
        records = {}
        for line in (self.out_dir / MANIFEST).read_bytes().splitlines(keepends=True):
            match = is_whole_line(line)
            if match is not None and int(match[1]) in wanted:
                records[int(match[1])] = json.loads(line)
        return records

    def remove_orphans(self, done: Iterable[int]) -> int:
        """Delete the writer's temp files, and its images that no manifest line lists (crash before
        the append); files of other names are left alone."""
        keep = {image_file_name(i, self.image_format).split('/')[-1] for i in done}
        image_dir = self.out_dir / IMAGE_DIR
        orphans = [p for p in image_dir.iterdir() if OWN_TEMP.fullmatch(p.name)
                   or (OWN_IMAGE.fullmatch(p.name) and p.name not in keep)] if image_dir.is_dir() else []
        orphans += [p for p in self.out_dir.iterdir() if OWN_TEMP.fullmatch(p.name)]
        for p in orphans:
            p.unlink(missing_ok=True)
        return len(orphans)

    # -- writing ----------------------------------------------------------------------------------
    def write(self, layout: Layout, generated: GeneratedImage, record: dict[str, Any]) -> dict[str, Any]:
        """Write one image, then append its manifest line; returns the manifest record."""
        image = generated.image
        if image.size != (layout.width, layout.height):
            raise ValueError(f'generator returned a {image.size[0]}x{image.size[1]} image for layout '
                             f'{layout.index}, which is {layout.width}x{layout.height}')
        file_name = image_file_name(layout.index, self.image_format)
        buf = io.BytesIO()
        save_kwargs = dict(quality=self.jpeg_quality) if self.image_format == 'jpg' else {}
        image.convert('RGB').save(buf, format=IMAGE_FORMATS[self.image_format], **save_kwargs)
        with atomic_write(self.out_dir / file_name) as f:
            f.write(buf.getvalue())
        rec = dict(index=layout.index, file_name=file_name, width=layout.width, height=layout.height,
                   layout=layout.to_dict(), generation=record)
        self._append((json.dumps(rec, ensure_ascii=False) + '\n').encode())
        return rec

    def _append(self, line: bytes) -> None:
        """Append one manifest line, all or nothing.

        A failed write (ENOSPC) is cut off again: a torn line would otherwise be continued by the next
        append, maybe another rank's, and lose that record too. A kill mid-append still leaves a torn
        line, which :meth:`scan` drops.
        """
        path = self.out_dir / MANIFEST
        with self._locked_manifest('ab') as f:
            end = path.stat().st_size
            try:
                rest = memoryview(line)
                while rest:  # unbuffered: a write may take part of the line, the next one raises
                    rest = rest[f.write(rest):]
                os.fsync(f.fileno())
            except OSError as e:
                os.truncate(path, end)
                raise naming(e, path)

    def _locked_manifest(self, mode: str):
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / MANIFEST
        if 'r' in mode and not path.exists():
            path.touch()
        return _Locked(path, mode)

    # -- COCO -------------------------------------------------------------------------------------
    def build_coco(self, records: dict[int, dict[str, Any]]) -> dict[str, Any]:
        """COCO dict: one image per record (id = index), one annotation per layout box."""
        images, annotations = [], []
        for index in sorted(records):
            rec = records[index]
            layout = Layout.from_dict(rec['layout'])
            images.append(dict(id=index, file_name=rec['file_name'], width=rec['width'],
                               height=rec['height'], **{GENERATION_KEY: rec['generation']}))
            for box, label in zip(layout.pixel_boxes(), layout.labels):
                x1, y1, x2, y2 = (float(v) for v in box)
                annotations.append(dict(id=len(annotations) + 1, image_id=index,
                                        category_id=self.cat_ids[label],
                                        bbox=[x1, y1, x2 - x1, y2 - y1],
                                        area=(x2 - x1) * (y2 - y1), iscrowd=0))
        return dict(info=dict(description='mmgen_det synthetic set', generator=self.settings.get('generator')),
                    images=images, annotations=annotations, categories=self.categories)

    def finalize(self, expected: Iterable[int]) -> dict[str, Any]:
        """Write ``annotations.json`` once every expected index is done; refuses a partial set."""
        expected = list(expected)
        missing = sorted(set(expected) - set(self.scan().done))
        if missing:
            raise RuntimeError(f'{self.out_dir}: {len(missing)} images are not generated yet '
                               f'(first: {missing[:5]}); resume the generation before finalising')
        coco = self.build_coco(self.read_records(expected))
        atomic_write_json(self.out_dir / ANNOTATIONS, coco)
        return coco


class _Locked:
    """Open a file and hold an exclusive ``flock`` on it for the ``with`` block."""

    def __init__(self, path: Path, mode: str) -> None:
        self.path, self.mode = path, mode

    def __enter__(self):
        self.f = open(self.path, self.mode, buffering=0)  # no buffer left to flush after a failed write
        fcntl.flock(self.f.fileno(), fcntl.LOCK_EX)
        return self.f

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.f.fileno(), fcntl.LOCK_UN)
        self.f.close()
