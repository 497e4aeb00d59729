"""Multi-process training on CPU-only machines (gloo) with mmengine's Runner.

mmengine 0.10.7 assumes a GPU per process in two places, so ``torchrun ... tools/train.py CONFIG
--launcher pytorch`` fails on a CPU build of torch:

* ``mmengine.dist.utils._init_dist_pytorch`` calls ``torch.cuda.set_device(local_rank)`` before
  ``init_process_group`` (``Torch not compiled with CUDA enabled``), and the default backend is nccl;
* ``Runner.wrap_model`` builds ``MMDistributedDataParallel(device_ids=[LOCAL_RANK])``, which torch's
  DDP refuses for a module on the CPU (``device_ids`` must be ``None`` there).

:func:`init_dist_without_cuda` and :func:`ddp_without_device_ids_on_cpu` patch exactly these two spots,
and only when CUDA is unavailable: on a GPU machine nothing changes. Applied once by
:func:`mmgen_det.compat.apply_all`. Remove when mmengine handles CPU launches (no fix upstream as of
0.10.7).
"""
from __future__ import annotations

import atexit
import logging

logger = logging.getLogger(__name__)


def _init_dist_pytorch_cpu(backend: str = 'gloo', init_backend: str = 'torch', **kwargs) -> None:
    """mmengine's torchrun initialisation without ``cuda.set_device``; gloo whatever was asked for.

    The process group is destroyed at exit: left to the interpreter's teardown, gloo's worker threads
    were now and then destroyed still running ("terminate called without an active exception"), and
    a finished run exited with SIGABRT."""
    import torch.distributed as torch_dist
    if init_backend != 'torch':
        raise ValueError(f'init_backend={init_backend!r} needs GPUs; on a CPU-only machine use "torch"')
    if backend != 'gloo':
        logger.warning('no CUDA device: the distributed backend is gloo instead of %s', backend)
    torch_dist.init_process_group(backend='gloo', **kwargs)
    atexit.register(_destroy_process_group)


def _destroy_process_group() -> None:
    import torch.distributed as torch_dist
    if torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def init_dist_without_cuda() -> None:
    """torchrun initialisation on CPUs (gloo); a no-op when CUDA is available."""
    import torch
    if torch.cuda.is_available():
        return
    from mmengine.dist import utils as dist_utils
    dist_utils._init_dist_pytorch = _init_dist_pytorch_cpu


def ddp_without_device_ids_on_cpu() -> None:
    """DDP over a CPU module with ``device_ids=None``; a no-op when CUDA is available."""
    import torch
    if torch.cuda.is_available():
        return
    from mmengine.model import MMDistributedDataParallel
    gpu_init = MMDistributedDataParallel.__init__

    def cpu_init(self, module, detect_anomalous_params: bool = False, **kwargs) -> None:
        # DDP replicates a CPU module only with device_ids=None (the Runner passes [LOCAL_RANK])
        if all(p.device.type == 'cpu' for p in module.parameters()):
            kwargs['device_ids'] = None
            kwargs.pop('output_device', None)
        gpu_init(self, module, detect_anomalous_params=detect_anomalous_params, **kwargs)

    MMDistributedDataParallel.__init__ = cpu_init
