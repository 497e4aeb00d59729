"""Shared fixtures: the shipped Fish4Knowledge sample converted to COCO once per session."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / 'shared' / 'data'
FISH_MINI = REPO / 'data' / 'fish4knowledge-mini'
FISH_CLASSES = ('0', '1', '2', '5', '6', '7', '8')


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (``make test`` runs 2 workers), each worker and the tools it starts get their
    share of the cores: torch's default of one thread per core in every worker oversubscribes them."""
    workers = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1'))
    if workers > 1:
        threads = max(1, (os.cpu_count() or 1) // workers)
        os.environ['OMP_NUM_THREADS'] = str(threads)
        import torch
        torch.set_num_threads(threads)


@pytest.fixture(scope='session')
def fish_coco(tmp_path_factory) -> Path:
    """``data/fish4knowledge-mini`` converted with convert_dataset (annotations/{train,val,test}.json)."""
    from mmgen_det.datasets import convert_dataset
    out = tmp_path_factory.mktemp('fish') / 'fish4knowledge-mini-coco'
    convert_dataset(FISH_MINI, 'yolo', out)
    return out
