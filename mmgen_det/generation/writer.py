"""Write a synthetic set to disk so that any interruption loses at most the images in flight.

The files are those of :mod:`~mmgen_det.generation.set_format`. Each image is written to a temporary
file, its line (with the image's size in bytes) is appended to ``manifest.jsonl``, the resume log, and
only then is the image renamed into place; ``generation_config.json`` holds what determines the pixels,
so a rerun with other settings refuses to mix; ``annotations.json`` (COCO) is written once every image
is done (by rank 0).

An image counts as done only when its manifest line is complete and its file is on disk at the size the
line records; an image missing or cut short is made again (from its own seed: the same image). A crash
before the append leaves a temporary file, one after it a line whose image is missing: either way that
image is redone. Appends are serialised with ``flock`` so several ranks can share one manifest; a torn
line (crash mid-append) is detected and dropped, and its image is simply made again.

What the writer did not write it never deletes or replaces: a set is written only into a new or empty
folder or its own (:func:`check_set_folder`); an image file no manifest line lists is never the
writer's (its line goes in before the rename), so one where an image is to go stops the run
(:meth:`SyntheticSetWriter.check_unlisted`), and cleanup deletes only the writer's temporary files
(:data:`OWN_TEMP`).
"""
from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..layouts import Layout
from ..utils.io import TMP_PREFIX, atomic_write, atomic_write_json, naming, read_json
from ..utils.locks import FolderBusyError, FolderLock, locked_open
from ..utils.text import first_few
from .base import GeneratedImage
from .set_format import ANNOTATIONS, CONFIG, GENERATION_KEY, IMAGE_DIR, MANIFEST
from .set_format import GENERATION_LOCK as LOCK
from .set_format import read_annotations  # noqa: F401  (importable from here, where it lived)

IMAGE_FORMATS = {'jpg': 'JPEG', 'png': 'PNG'}

# An image's file name (image_file_name), and the writer's temporary files (atomic_write of an image or
# a set file): the only files its cleanup deletes.
IMAGE_NAME = re.compile(rf'\d{{9,}}\.(?:{"|".join(IMAGE_FORMATS)})')
OWN_TEMP = re.compile(re.escape(TMP_PREFIX) + '(?:' + '|'.join(
    [*map(re.escape, (MANIFEST, CONFIG, ANNOTATIONS)), IMAGE_NAME.pattern]) + r')\..+')


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
        shown = first_few(foreign)
        raise ForeignFolderError(
            f'{out_dir} is not empty and holds no synthetic set (no {CONFIG} or {MANIFEST}; it holds '
            f'{shown}), so no set is written into it. Fix: give a new or empty output folder (--out, '
            "generation.out_dir or the dataset's data_root), or move those files away")


class SetLockedError(FolderBusyError):
    """Another generation run is writing the same set folder."""


class SetLock(FolderLock):
    """Exclusive, non-blocking ``flock`` on ``SET/.generation.lock`` for one run's lifetime.

    Taken by rank 0 of a run, so two independent runs on one folder never interleave: the second
    refuses at once, naming the first. The lock dies with the process (no stale lock after a kill).
    """

    def __init__(self, out_dir: str | os.PathLike) -> None:
        super().__init__(out_dir, LOCK, 'another generation run',
                         'wait for it to finish, or use another output folder', SetLockedError)


class UnlistedImagesError(RuntimeError):
    """Image files no manifest line lists sit where the run would write its images."""


@dataclass(frozen=True)
class ManifestScan:
    """What a manifest says is done: ``done`` maps index -> file name (the image on disk as written);
    ``missing_images`` were listed but are missing or not the size written; ``unlisted`` are the files
    of ``images/`` no line lists (not the writer's: its temporary files aside)."""
    done: dict[int, str]
    torn_lines: int
    missing_images: int
    unlisted: frozenset[str]


# Every manifest line starts with these keys (the writer puts them first; lines written before the size
# was recorded lack ``bytes``); resume reads only them, so scanning a 100,000-line manifest costs a regex
# per line instead of a full JSON parse.
LINE_START = re.compile(rb'\{"index": (\d+), "file_name": "(images/\d+\.[a-z]+)"(?:, "bytes": (\d+))?')


def is_whole_line(line: bytes) -> re.Match | None:
    """The line's start match if it is one complete record; ``None`` for a torn line.

    A crash mid-append leaves a line without its newline, which the next append cuts off
    (:meth:`SyntheticSetWriter._append`); in a manifest written before appends did, another rank's
    append continued it: such a line holds two record starts, and is rejected as a whole.
    """
    match = LINE_START.match(line)
    if match is None or not line.endswith(b'}\n') or len(LINE_START.findall(line)) != 1:
        return None
    return match


def files_in(folder: Path) -> set[str]:
    return set(os.listdir(folder)) if folder.is_dir() else set()


def unlisted(names: Iterable[str], listed: set[str]) -> frozenset[str]:
    """The file ``names`` of ``images/`` no manifest line lists, the writer's temporary files aside."""
    return frozenset(n for n in names if n not in listed and not OWN_TEMP.fullmatch(n))


def not_as_written(image_dir: Path, sizes: dict[str, int | None], on_disk: set[str]) -> set[str]:
    """The images of ``sizes`` (``images/NAME`` -> bytes written; ``None``: not recorded) that are not
    in ``on_disk`` (the names in ``image_dir``) or have another size. One ``stat`` per image, relative
    to the open folder (half the cost of a full path on a 100,000-image set)."""
    bad = {name for name in sizes if name.rsplit('/', 1)[-1] not in on_disk}
    known = [name for name, size in sizes.items() if size is not None and name not in bad]
    if not known:
        return bad
    folder = os.open(image_dir, os.O_RDONLY)
    try:
        for name in known:
            try:
                if os.stat(name.rsplit('/', 1)[-1], dir_fd=folder).st_size != sizes[name]:
                    bad.add(name)
            except FileNotFoundError:
                bad.add(name)
    finally:
        os.close(folder)
    return bad


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
        """Which images are done: a whole manifest line AND the image file on disk at the size the line
        records (lines without a size: the file exists).

        With ``repair``, the manifest is rewritten atomically without its torn lines (a crash
        mid-append) and without the lines of images missing or cut short, whose files are deleted
        (the manifest names them: they are the writer's), so the manifest lists what is on disk.
        """
        path, image_dir = self.out_dir / MANIFEST, self.out_dir / IMAGE_DIR
        if not path.exists():
            return ManifestScan({}, 0, 0, unlisted(files_in(image_dir), set()))
        whole, names, sizes = [], {}, {}  # flat containers: 100,000 tuples would make the GC crawl
        with self._locked_manifest('rb') as f:  # listed under the lock: another rank may be repairing
            on_disk = files_in(image_dir)
            lines = f.read().splitlines(keepends=True)
            for line in lines:
                match = is_whole_line(line)
                if match is not None:
                    whole.append(line)
                    names[int(match[1])] = name = match[2].decode()
                    sizes[name] = None if match[3] is None else int(match[3])
            bad = not_as_written(image_dir, sizes, on_disk)
            if repair and (bad or len(whole) < len(lines)):
                with atomic_write(path) as out:
                    out.write(b''.join(line for line in whole if is_whole_line(line)[2].decode() not in bad))
                for name in bad:
                    (self.out_dir / name).unlink(missing_ok=True)
        done = {index: name for index, name in names.items() if name not in bad}
        listed = {name.rsplit('/', 1)[-1] for name in sizes}
        return ManifestScan(done, len(lines) - len(whole), len(bad), unlisted(on_disk, listed))

    def check_unlisted(self, scan: ManifestScan, indices: Iterable[int]) -> None:
        """Refuse to write images ``indices`` where a file the manifest does not list has an image's name:
        it is someone else's (the writer lists an image before its file gets that name)."""
        names = {image_file_name(i, self.image_format).rsplit('/', 1)[-1] for i in indices}
        clash = sorted(scan.unlisted & names)
        if clash:
            shown = first_few(clash)
            raise UnlistedImagesError(
                f'{self.out_dir / IMAGE_DIR} holds {shown}, not listed in {MANIFEST}: files this set did not '
                'write, where its images are to go. Nothing was generated, so nothing of them is replaced. '
                'Fix: move them out of the folder (or use another output folder)')

    def read_records(self, indices: Iterable[int]) -> dict[int, dict[str, Any]]:
        """Full manifest records of ``indices`` (the last whole line of each index wins)."""
        wanted = set(indices)
        records = {}
        for line in (self.out_dir / MANIFEST).read_bytes().splitlines(keepends=True):
            match = is_whole_line(line)
            if match is not None and int(match[1]) in wanted:
                records[int(match[1])] = json.loads(line)
        return records

    def remove_temp_files(self) -> int:
        """Delete the temporary files of the writer's interrupted writes; files of other names are left
        alone. Returns how many were deleted."""
        image_dir = self.out_dir / IMAGE_DIR
        temp = [p for folder in (self.out_dir, image_dir) if folder.is_dir()
                for p in folder.iterdir() if OWN_TEMP.fullmatch(p.name)]
        for p in temp:
            p.unlink(missing_ok=True)
        return len(temp)

    # -- writing ----------------------------------------------------------------------------------
    def write(self, layout: Layout, generated: GeneratedImage, record: dict[str, Any]) -> dict[str, Any]:
        """Write one image and its manifest line; returns the manifest record.

        The line goes in before the image gets its name: a file of an image's name that no line lists
        is then never the writer's, and is left alone (:meth:`check_unlisted`)."""
        image = generated.image
        if image.size != (layout.width, layout.height):
            raise ValueError(f'generator returned a {image.size[0]}x{image.size[1]} image for layout '
                             f'{layout.index}, which is {layout.width}x{layout.height}')
        file_name = image_file_name(layout.index, self.image_format)
        buf = io.BytesIO()
        save_kwargs = dict(quality=self.jpeg_quality) if self.image_format == 'jpg' else {}
        image.convert('RGB').save(buf, format=IMAGE_FORMATS[self.image_format], **save_kwargs)
        data = buf.getvalue()
        rec = dict(index=layout.index, file_name=file_name, bytes=len(data), width=layout.width,
                   height=layout.height, layout=layout.to_dict(), generation=record)
        with atomic_write(self.out_dir / file_name) as f:
            f.write(data)
            self._append((json.dumps(rec, ensure_ascii=False) + '\n').encode())
        return rec

    def _append(self, line: bytes) -> None:
        """Append one manifest line, all or nothing.

        A failed write (ENOSPC) is cut off again at once. A kill mid-append leaves a torn line: the next
        append, maybe another rank's, cuts it off first (holding the lock, it knows no writer is in that
        line) rather than continue it and lose its own record too; :meth:`scan` drops one left last.
        """
        path = self.out_dir / MANIFEST
        with self._locked_manifest('ab') as f:
            end = cut_torn_tail(path)
            try:
                rest = memoryview(line)
                while rest:  # unbuffered: a write may take part of the line, the next one raises
                    rest = rest[f.write(rest):]
                os.fsync(f.fileno())
            except OSError as e:
                os.truncate(path, end)
                raise naming(e, path)

    def _locked_manifest(self, mode: str):
        """The manifest opened unbuffered (no buffer left to flush after a failed write), locked."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        return locked_open(self.out_dir / MANIFEST, mode, buffering=0)

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


def cut_torn_tail(path: Path) -> int:
    """Cut a last line without its newline (a writer killed mid-append) off ``path``; its new size.

    Call it holding the manifest's lock: no writer is then in the middle of a line."""
    size = path.stat().st_size
    with open(path, 'rb') as f:
        if size == 0 or os.pread(f.fileno(), 1, size - 1) == b'\n':
            return size
        size = f.read().rfind(b'\n') + 1
    os.truncate(path, size)
    return size
