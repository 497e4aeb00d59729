"""Stage cache: a stage that ran with the same inputs is never run again.

In: a stage name and its inputs (plain JSON data: settings, the hashes of the files it reads, and
the keys of the stages it builds on). Out: ``WORK/stages/<stage>/<label>-<key>/`` holding the stage's
files and ``record.json`` (what it produced: checkpoint, iterations, seconds...), written atomically
as the stage's last act, so a killed stage leaves no record and is redone.

Keys chain: a stage's inputs include its upstream stages' keys, so a change anywhere upstream gives
every downstream stage a new key, and an extended sweep finds its old stages by key.
Every lookup is logged to ``WORK/stage_log.jsonl`` (``status``: ``ran`` or ``cached``): a rerun's
log says exactly which stages did work.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
import warnings
from pathlib import Path
from typing import Any

from ..utils.io import atomic_write_json, read_json

RECORD = 'record.json'
STAGE_LOG = 'stage_log.jsonl'
#: content digests of the data source's files, so a rerun reads only the files that changed
DIGEST_CACHE = 'file_digests.json'


def stage_key(stage: str, inputs: dict[str, Any]) -> str:
    """16 hex digits of sha256 over the stage name and its canonical JSON inputs."""
    text = json.dumps(dict(stage=stage, inputs=inputs), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def safe_label(label: str) -> str:
    return re.sub(r'[^A-Za-z0-9_.=-]+', '_', label)[:80]


class StageCache:
    """Folders and records of the stages of one work dir (see the module docstring)."""

    def __init__(self, work_dir: str | Path, write: bool = True) -> None:
        self.work_dir = Path(work_dir)
        self.write = write  # False on non-main ranks and in dry runs: look, never touch

    def stage_dir(self, stage: str, key: str, label: str) -> Path:
        return self.work_dir / 'stages' / stage / f'{safe_label(label)}-{key}'

    def load(self, stage_dir: Path) -> dict[str, Any] | None:
        path = stage_dir / RECORD
        return read_json(path) if path.is_file() else None

    def save(self, stage_dir: Path, record: dict[str, Any]) -> None:
        if self.write:
            atomic_write_json(stage_dir / RECORD, record, indent=1)

    def log(self, stage: str, key: str, label: str, status: str, record: dict[str, Any]) -> None:
        if not self.write:
            return
        line = dict(time=time.strftime('%Y-%m-%dT%H:%M:%S'), stage=stage, key=key, label=label, status=status,
                    seconds=record.get('seconds'), peak_rss_mib=record.get('peak_rss_mib'),
                    iterations=record.get('iterations'))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with open(self.work_dir / STAGE_LOG, 'a+b') as f:
            torn = f.tell() > 0 and f.seek(-1, 2) is not None and f.read(1) != b'\n'
            f.write((('\n' if torn else '') + json.dumps(line) + '\n').encode())


def read_stage_log(work_dir: str | Path) -> list[dict[str, Any]]:
    """The log's entries; a line a killed process left torn is skipped with a warning (the log is a
    record of what happened, and stage records, not the log, decide what is cached)."""
    path = Path(work_dir) / STAGE_LOG
    entries = []
    for number, line in enumerate(path.read_text().splitlines() if path.is_file() else [], 1):
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            warnings.warn(f'{path}:{number}: a torn line (a process killed while writing it) is skipped')
    return entries
