"""Peak resident memory of this process over a block of work, for stage records.

``ru_maxrss`` only ever grows, so it cannot say what one stage of a long run used; a thread sampling
``/proc/self/statm`` can. Data-loader worker processes are not included.
"""
from __future__ import annotations

import os
import threading


def current_rss_bytes() -> int | None:
    """Resident memory of this process now; ``None`` where ``/proc`` is missing (not Linux)."""
    try:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
    except (OSError, ValueError, IndexError):
        return None


class PeakRSS:
    """``with PeakRSS() as mem: work()`` -> ``mem.peak_mib``: the highest RSS seen, sampled every
    ``interval`` seconds (``None`` where it cannot be read)."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.peak: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _observe(self) -> None:
        rss = current_rss_bytes()
        if rss is not None:
            self.peak = max(self.peak or 0, rss)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self._observe()

    def __enter__(self) -> 'PeakRSS':
        self._observe()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._observe()

    @property
    def peak_mib(self) -> float | None:
        return None if self.peak is None else round(self.peak / 2 ** 20, 1)
