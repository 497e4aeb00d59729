"""A progress bar with rate and ETA for long loops (generation, scoring, conversion)."""
from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """Prints ``desc: done/total [rate it/s, ETA mm:ss] suffix`` at most every ``interval`` seconds.

    Counts only the work done in this run for the rate, so a resumed run does not report a rate
    inflated by the items that were already finished.
    """

    def __init__(self, total: int, desc: str = '', initial: int = 0, unit: str = 'img',
                 interval: float = 1.0, stream: TextIO | None = None, lines: bool = False) -> None:
        self.total = total
        self.desc = desc
        self.done = initial
        self.unit = unit
        self.interval = interval
        self.stream = stream or sys.stderr
        self.lines = lines  # one line per update (logs) instead of rewriting one line (terminals)
        self._start_done = initial
        self._start = time.monotonic()
        self._last_print = 0.0
        self._shown = -1  # ``done`` at the last print
        self.suffix = ''  # what else to show after the ETA (e.g. the last loss)

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self._start
        return (self.done - self._start_done) / elapsed if elapsed > 0 else 0.0

    def format(self) -> str:
        rate = self.rate
        remaining = max(self.total - self.done, 0)
        eta = remaining / rate if rate > 0 else float('nan')
        eta_str = '--:--' if eta != eta else f'{int(eta) // 60:02d}:{int(eta) % 60:02d}'
        return (f'{self.desc}: {self.done}/{self.total} '
                f'[{rate:.2f} {self.unit}/s, ETA {eta_str}]' + (f' {self.suffix}' if self.suffix else ''))

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last_print >= self.interval or self.done >= self.total:
            self._last_print, self._shown = now, self.done
            if self.lines:
                print(self.format(), file=self.stream, flush=True)
            else:
                print('\r' + self.format(), end='', file=self.stream, flush=True)

    def close(self) -> None:
        """End the line, printing the final state unless it is already on screen."""
        if self.lines:
            if self._shown != self.done:
                print(self.format(), file=self.stream, flush=True)
            return
        print(('\r' + self.format()) if self._shown != self.done else '', file=self.stream, flush=True)
