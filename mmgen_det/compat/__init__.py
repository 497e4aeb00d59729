"""Every patch ``import mmgen_det`` applies to third-party code, in one table: :data:`PATCHES`.

``mmgen_det.registry.register_all_modules`` (run by ``import mmgen_det``) calls :func:`apply_all`
before importing the registering modules, so mmdet's stock tools get the patches through
``custom_imports``. Each patch is narrow (one function, method or registration), named after the
upstream issue or code it works around, applied at most once per process, and its module says when it
can go. Nothing else in the package changes third-party code: ``FixedSSDHead`` (``ssd_predict``) is a
registered subclass that configs choose by name, and ``mmgen_det/__init__.py`` only adds a warnings
filter for mmengine's ``pkg_resources`` deprecation message.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .checkpoint_loading import allow_mmengine_checkpoint_types, refuse_code_in_local_checkpoints
from .cpu_distributed import ddp_without_device_ids_on_cpu, init_dist_without_cuda


@dataclass(frozen=True)
class Patch:
    name: str  # the upstream issue, or the upstream function when none is filed
    upstream: str  # where to check whether it is still needed
    does: str
    apply: Callable[[], None]


MMENGINE_1655 = 'https://github.com/open-mmlab/mmengine/issues/1655'
MMENGINE_0_10_7 = 'https://github.com/open-mmlab/mmengine/blob/v0.10.7/mmengine'

PATCHES: tuple[Patch, ...] = (
    Patch('mmengine#1655 safe globals', MMENGINE_1655,
          "torch >= 2.6's weights-only torch.load accepts the types mmengine checkpoints hold "
          '(torch.serialization.add_safe_globals; anything else is still refused)',
          allow_mmengine_checkpoint_types),
    Patch('mmengine#1655 local loader', MMENGINE_1655,
          "mmengine's local-file checkpoint loader turns such a refusal into UnsafeCheckpointError, "
          'which says what to do (CheckpointLoader.register_scheme)',
          refuse_code_in_local_checkpoints),
    Patch('mmengine _init_dist_pytorch on CPU', f'{MMENGINE_0_10_7}/dist/utils.py',
          'CPU-only torch: torchrun initialisation uses gloo and skips torch.cuda.set_device',
          init_dist_without_cuda),
    Patch('mmengine Runner.wrap_model DDP on CPU', f'{MMENGINE_0_10_7}/runner/runner.py',
          'CPU-only torch: MMDistributedDataParallel wraps a CPU module with device_ids=None '
          '(the Runner passes [LOCAL_RANK])',
          ddp_without_device_ids_on_cpu),
)

_applied: set[str] = set()


def apply_all() -> None:
    """Apply each patch of :data:`PATCHES` that this process has not applied yet."""
    for patch in PATCHES:
        if patch.name not in _applied:
            patch.apply()
            _applied.add(patch.name)
