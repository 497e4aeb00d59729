"""Small JPEGs of whole images and of boxes cut out of them, made once and in parallel.

In: :class:`ImageJob` s (one source image, the files to cut from it). Out: the JPEG files, each
written atomically, so an interrupted run leaves whole files only and the next run makes just the
missing or stale ones (older than their source). A gallery of 10,000 images is made this way once
and rebuilt in seconds after new scores.
"""
from __future__ import annotations

import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from PIL import Image, ImageOps

from ..utils.io import atomic_write
from ..utils.progress import ProgressBar

JPEG_QUALITY = 82
CROP_MARGIN = 0.15  # context around a cut-out box, as a share of its side
JOBS_PER_TASK = 16  # amortises the process-pool round trip; small enough for a smooth progress line


@dataclass(frozen=True)
class Output:
    """One JPEG to make: the whole image (``box`` None) or an ``xywh`` box of it, at most ``size`` px."""
    path: str
    size: int
    box: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class ImageJob:
    src: str
    outputs: tuple[Output, ...]


@dataclass(frozen=True)
class ThumbnailSummary:
    made: int
    already_done: int
    failed: dict[str, str]  # source -> error

    def line(self) -> str:
        failed = f', {len(self.failed)} images unreadable' if self.failed else ''
        return f'{self.made} images thumbnailed now, {self.already_done} already done{failed}'


def is_fresh(out: Output, src_mtime: float) -> bool:
    try:
        return os.stat(out.path).st_mtime >= src_mtime
    except FileNotFoundError:
        return False


def pending(job: ImageJob) -> ImageJob | None:
    """The job reduced to its missing or stale outputs; None when nothing is left to make."""
    try:
        src_mtime = os.stat(job.src).st_mtime
    except FileNotFoundError:
        return job  # reported as unreadable by the worker
    todo = tuple(out for out in job.outputs if not is_fresh(out, src_mtime))
    return ImageJob(job.src, todo) if todo else None


def crop_window(box: Sequence[float], width: int, height: int) -> tuple[int, int, int, int]:
    """The box with a margin, clipped to the image, at least one pixel wide and high."""
    x, y, w, h = box
    mx, my = w * CROP_MARGIN, h * CROP_MARGIN
    x0, y0 = max(math.floor(x - mx), 0), max(math.floor(y - my), 0)
    x1, y1 = min(math.ceil(x + w + mx), width), min(math.ceil(y + h + my), height)
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


def save_jpeg(image: Image.Image, path: str) -> None:
    with atomic_write(path) as f:
        image.save(f, format='JPEG', quality=JPEG_QUALITY)


def run_job(job: ImageJob) -> str | None:
    """Make the job's outputs; returns the error when the source cannot be read."""
    try:
        with Image.open(job.src) as im:
            if all(out.box is None for out in job.outputs):
                # JPEG decoding at a reduced scale: several times faster for a thumbnail
                im.draft('RGB', (2 * max(o.size for o in job.outputs),) * 2)
            im = ImageOps.exif_transpose(im).convert('RGB')
    except (OSError, ValueError) as e:
        return f'{type(e).__name__}: {e}'
    for out in job.outputs:
        part = im.copy() if out.box is None else im.crop(crop_window(out.box, im.width, im.height))
        part.thumbnail((out.size, out.size), Image.BILINEAR)
        save_jpeg(part, out.path)
    return None


def run_jobs(jobs: Sequence[ImageJob]) -> list[tuple[str, str | None]]:
    return [(job.src, run_job(job)) for job in jobs]


def make_thumbnails(jobs: Sequence[ImageJob], workers: int = 2, progress: bool = True,
                    desc: str = 'thumbnails') -> ThumbnailSummary:
    """Make every missing or stale output of ``jobs`` with ``workers`` processes (1: in this one)."""
    todo = [p for p in (pending(job) for job in jobs) if p is not None]
    for job in todo:
        for out in job.outputs:
            Path(out.path).parent.mkdir(parents=True, exist_ok=True)
    already = len(jobs) - len(todo)
    bar = ProgressBar(len(jobs), desc=desc, initial=already) if progress and todo else None
    failed: dict[str, str] = {}
    chunks = [todo[i:i + JOBS_PER_TASK] for i in range(0, len(todo), JOBS_PER_TASK)]

    def collect(results: list[tuple[str, str | None]]) -> None:
        failed.update((src, error) for src, error in results if error)
        if bar:
            bar.update(len(results))

    if workers <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            collect(run_jobs(chunk))
    else:
        # fork: the workers need only PIL, and a spawned one would re-import torch and mmdet (seconds)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context('fork')) as pool:
            for future in as_completed([pool.submit(run_jobs, chunk) for chunk in chunks]):
                collect(future.result())
    if bar:
        bar.close()
    return ThumbnailSummary(len(todo) - len(failed), already, failed)
