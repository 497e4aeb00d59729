"""A progress bar with rate and ETA for long loops (generation, scoring, conversion).

On a terminal the bar rewrites one line and leaves the cursor at its end. Whatever else is printed next
(an error, a warning, a log line) must start on a line of its own, not glued after the bar: the
commands wrap their console streams in :class:`EndsProgressLine` (``mmgen_det.utils.command_line``), which
ends such a line before anything else is written.
"""
from __future__ import annotations

import sys
import time
from typing import Any, TextIO

#: the stream where a bar left its line unfinished (the cursor after it), if any
_unfinished: TextIO | None = None


def end_progress_line() -> None:
    """Start a new line if a progress bar left its line unfinished."""
    global _unfinished
    stream, _unfinished = _unfinished, None
    if stream is not None and not stream.closed:
        stream.write('\n')
        stream.flush()


class EndsProgressLine:
    """A console stream (``sys.stderr``, ...) that ends an unfinished progress line before it writes."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        if text:
            end_progress_line()
        return self.stream.write(text)

    def __getattr__(self, name: str) -> Any:  # flush, fileno, isatty, encoding, buffer, ...
        return getattr(self.stream, name)


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
                self._rewrite_line('\r' + self.format(), end='')

    def close(self) -> None:
        """End the line, printing the final state unless it is already on screen."""
        if self.lines:
            if self._shown != self.done:
                print(self.format(), file=self.stream, flush=True)
            return
        self._rewrite_line(('\r' + self.format()) if self._shown != self.done else '', end='\n')

    def _rewrite_line(self, text: str, end: str) -> None:
        """Print over this bar's own line (which must not be ended first) and note whether it is left
        unfinished."""
        global _unfinished
        _unfinished = None
        print(text, end=end, file=self.stream, flush=True)
        _unfinished = self.stream if end == '' else None
