"""PeakRSS sees memory that a block of work allocates and frees again (ru_maxrss could not say which
block it was)."""
from __future__ import annotations

import time

import numpy as np

from mmgen_det.utils.memory import PeakRSS, current_rss_bytes


def test_peak_includes_memory_freed_before_the_block_ends():
    before = current_rss_bytes()
    with PeakRSS(interval=0.01) as memory:
        block = np.ones(200 * 2 ** 20, dtype=np.uint8)  # 200 MiB, touched
        time.sleep(0.3)  # several sampling intervals, even on a busy machine
        del block
    assert before is not None and memory.peak_mib is not None
    assert memory.peak_mib >= before / 2 ** 20 + 150
    assert current_rss_bytes() < memory.peak
