"""The scored set the gallery tests share (built once per session)."""
from __future__ import annotations

from pathlib import Path

import pytest
from gallery_sets import build_scored_set


@pytest.fixture(scope='session')
def scored_set(fish_coco, tmp_path_factory) -> Path:
    return build_scored_set(tmp_path_factory.mktemp('gallery') / 'set', fish_coco)
