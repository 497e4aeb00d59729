"""Where the package reaches into third-party code, in two tables: :data:`PATCHES` and :data:`DIFFUSERS_INTERNALS`.

:data:`PATCHES` lists every patch ``import mmgen_det`` applies to third-party code.
``mmgen_det.registry`` calls :func:`apply_all` before the registering modules are imported: at
``import mmgen_det`` where torch or mmdet is already loaded (mmdet's stock tools, through
``custom_imports``), else as the process first imports mmdet (a command's ``--help`` stays light). Each patch is narrow (one function, method or registration), named after the
upstream issue or code it works around, applied at most once per process, and its module says when it
can go.

:data:`~.diffusers_internals.DIFFUSERS_INTERNALS` (imported by the GLIGEN code, not at start-up) lists
every diffusers internal the GLIGEN generators rely on. They patch nothing process-wide, but during a
pipeline call they hook into the objects they own: forward pre-hooks on the UNet and a
``scheduler.step`` shadowed on the instance, both removed when the call ends. Each entry has a
``check()`` against the installed diffusers.

Nothing else in the package changes third-party code: ``FixedSSDHead`` (``ssd_predict``) is a
registered subclass that configs choose by name, and ``mmgen_det/__init__.py`` only adds a warnings
filter for mmengine's ``pkg_resources`` deprecation message.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .checkpoint_loading import allow_mmengine_checkpoint_types, refuse_code_in_local_checkpoints
from .config_prefix import editable_installed_path, register_config_prefix
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
    Patch('mmengine MODULE2PACKAGE', f'{MMENGINE_0_10_7}/config/utils.py',
          "``_base_ = 'mmgen_det::...'`` resolves to the shipped configs (mmgen_det/.mim/configs), "
          'as mmdet:: does for mmdet', register_config_prefix),
    Patch('mmengine get_installed_path under PEP 660', f'{MMENGINE_0_10_7}/utils/package_utils.py',
          "an editable install's package folder is where Python imports it from, not the "
          "distribution's location (site-packages)", editable_installed_path),
)

_applied: set[str] = set()


def apply_all() -> None:
    """Apply each patch of :data:`PATCHES` that this process has not applied yet."""
    for patch in PATCHES:
        if patch.name not in _applied:
            patch.apply()
            _applied.add(patch.name)
