"""Fixtures for the generation tests: a tiny random GLIGEN saved once per session."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
import torch


@pytest.fixture(scope='session')
def tiny_gligen_dir(tmp_path_factory) -> Callable[[str], Path]:
    """``tiny_gligen_dir(kind)``: a ``save_pretrained`` folder of the tiny GLIGEN, built on first use."""
    from mmgen_det.testing.tiny_gligen import save_tiny_gligen

    root = tmp_path_factory.mktemp('tiny_gligen')
    saved: dict[str, Path] = {}

    def get(kind: str = 'text-box') -> Path:
        if kind not in saved:
            saved[kind] = save_tiny_gligen(root / kind, kind, seed=0)
        return saved[kind]

    return get


@pytest.fixture(scope='module', autouse=True)
def one_torch_thread():
    """The tiny models are latency-bound: with 2 threads on a busy 2-core box a 2-step run took 8 s
    instead of 0.3 s (thread contention), so these tests use one thread and restore the setting."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
