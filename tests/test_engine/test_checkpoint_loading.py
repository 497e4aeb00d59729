"""Full mmengine checkpoints load under torch's weights-only unpickler; code-running pickles do not."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import mmgen_det  # noqa: F401  installs the allow-list and the refusing local loader
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

from mmgen_det.compat.checkpoint_loading import UnsafeCheckpointError


class RunsCode:
    """Unpickling this calls os.system: what a malicious checkpoint does."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))


def test_mmengine_types_load_with_weights_only(tmp_path):
    buf = HistoryBuffer()
    buf.update(np.float64(1.5))
    ckpt = dict(state_dict={'w': torch.ones(2)},
                message_hub=dict(log_scalars={'loss': buf}, runtime_info={'epoch': np.int64(3)}),
                meta=dict(dtype=np.dtype('float32'), arr=np.arange(3)))
    path = tmp_path / 'ok.pth'
    torch.save(ckpt, path)
    loaded = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert loaded['message_hub']['runtime_info']['epoch'] == 3
    assert loaded['message_hub']['log_scalars']['loss'].current() == 1.5
    np.testing.assert_array_equal(loaded['meta']['arr'], np.arange(3))


def test_code_running_pickle_is_refused(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'payload': RunsCode(str(marker))}, path)
    with pytest.raises(UnsafeCheckpointError) as e:
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert str(path) in str(e.value) and 'refused' in str(e.value)
    assert not marker.exists(), 'the pickle ran code'


def test_the_local_loader_passes_weights_only_itself(tmp_path, monkeypatch):
    """Not torch's default (False before torch 2.6): the loader asks for weights only explicitly."""
    seen = {}
    real_load = torch.load

    def recording_load(*args, **kwargs):
        seen.update(kwargs)
        return real_load(*args, **kwargs)
    path = tmp_path / 'w.pth'
    torch.save({'state_dict': {'w': torch.ones(1)}}, path)
    monkeypatch.setattr(torch, 'load', recording_load)
    CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert seen.get('weights_only') is True
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        CheckpointLoader.load_checkpoint(str(tmp_path / 'nowhere.pth'), map_location='cpu')
