"""PretrainLoadCheckHook (in every fine-tune config) passes for a checkpoint of the same detector,
reports what did not match, and stops the fine-tune, naming the checkpoint, when backbone weights were
not loaded, the classes changed order, or there is no checkpoint at all."""
from __future__ import annotations

import copy
import logging
import re
from pathlib import Path

import pytest
import torch
from helpers import REPO
from mmengine.config import Config

FISH_CLASSES = ('0', '1', '2', '5', '6', '7', '8')
# the lightest member of the family; the hook is the same in every fine-tune config
FINETUNE = REPO / 'configs' / 'mobilenet' / 'ssdlite_mobilenetv2_real-finetune_fish4knowledge.py'


@pytest.fixture(scope='module')
def finetune_cfg() -> Config:
    return Config.fromfile(FINETUNE)


def tiny_finetune(template: Config, fish_coco: Path, work_dir: Path, load_from: str | None) -> Config:
    """The fine-tune config on the shipped sample: one iteration at 160x90, no validation or checkpoints."""
    cfg = copy.deepcopy(template)
    cfg.train_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
    cfg.train_dataloader.dataset.data_root = f'{fish_coco}/'
    for step in cfg.train_dataloader.dataset.pipeline:
        if step.type == 'Resize':
            step.scale = (160, 90)
    for name in ('val', 'test'):
        cfg[f'{name}_dataloader'] = cfg[f'{name}_cfg'] = cfg[f'{name}_evaluator'] = None
    cfg.train_cfg.update(max_iters=1, val_interval=1000)
    cfg.default_hooks.update(checkpoint=None, logger=dict(type='LoggerHook', interval=1))
    cfg.model.backbone.init_cfg.update(checkpoint=str(work_dir / 'no-imagenet-here.pth'), allow_scratch=True)
    cfg.load_from = load_from
    cfg.work_dir = str(work_dir)
    return cfg


def save_pretrain(cfg: Config, path: Path, drop: str | None = None, classes=FISH_CLASSES,
                  num_classes: int = 7) -> str:
    """A checkpoint as a synthetic pretrain of ``cfg``'s detector would leave it (own random init)."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.bbox_head.num_classes = num_classes
    model_cfg.backbone.init_cfg.allow_scratch = True
    model = MODELS.build(model_cfg)
    model.init_weights()
    state = {k: v for k, v in model.state_dict().items() if drop is None or not k.startswith(drop)}
    torch.save({'meta': {'dataset_meta': {'classes': tuple(classes)}}, 'state_dict': state}, path)
    return str(path)


class Messages(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def train(cfg: Config) -> tuple[object, list[str]]:
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    messages = Messages()
    runner.logger.addHandler(messages)
    try:
        runner.train()
    finally:
        runner.logger.removeHandler(messages)
    return runner, messages.lines


def test_matching_checkpoint_passes_and_records_the_init(finetune_cfg, fish_coco, tmp_path):
    ckpt = save_pretrain(finetune_cfg, tmp_path / 'pretrain.pth')
    runner, lines = train(tiny_finetune(finetune_cfg, fish_coco, tmp_path / 'w', ckpt))
    report = next(line for line in lines if 'tensors loaded' in line)
    n = len(runner.model.state_dict())
    assert report == f'PretrainLoadCheckHook: {n}/{n} model tensors loaded from {ckpt}', report
    assert runner.message_hub.get_info('pretrain_checkpoint') == ckpt
    assert runner.message_hub.get_info('backbone_init') == 'scratch'


def test_other_head_is_reported_not_fatal(finetune_cfg, fish_coco, tmp_path):
    """e.g. a checkpoint with another class count: the head is relearnt, backbone and neck load."""
    ckpt = save_pretrain(finetune_cfg, tmp_path / 'coco_like.pth', classes=FISH_CLASSES, num_classes=3)
    _, lines = train(tiny_finetune(finetune_cfg, fish_coco, tmp_path / 'w', ckpt))
    report = next(line for line in lines if 'tensors loaded' in line)
    assert 'shape_mismatch (12): bbox_head.cls_convs.0.1.weight' in report, report


def test_missing_backbone_weights_stop_the_finetune(finetune_cfg, fish_coco, tmp_path):
    ckpt = save_pretrain(finetune_cfg, tmp_path / 'no_backbone.pth', drop='backbone.')
    with pytest.raises(RuntimeError, match=r"weights under \['backbone.', 'neck.'\] were NOT loaded "
                                           rf'from the pretrain checkpoint {re.escape(ckpt)}'):
        train(tiny_finetune(finetune_cfg, fish_coco, tmp_path / 'w', ckpt))


def test_changed_class_order_stops_the_finetune(finetune_cfg, fish_coco, tmp_path):
    ckpt = save_pretrain(finetune_cfg, tmp_path / 'reordered.pth', classes=reversed(FISH_CLASSES))
    with pytest.raises(ValueError, match='labels would change meaning'):
        train(tiny_finetune(finetune_cfg, fish_coco, tmp_path / 'w', ckpt))


def test_no_checkpoint_stops_the_finetune(finetune_cfg, fish_coco, tmp_path):
    with pytest.raises(RuntimeError, match='no `load_from`'):
        train(tiny_finetune(finetune_cfg, fish_coco, tmp_path / 'w', None))


# runnable fine-tune configs (the shared fine-tune base under _base_/ is not one)
FINETUNES = sorted(str(p.relative_to(REPO / 'configs')) for p in (REPO / 'configs').rglob('*.py')
                   if '_base_' not in p.parts
                   and ('finetune' in p.name or re.search(r"^load_from = '", p.read_text(), re.M)))


def test_finetune_configs_are_found():
    assert 'demo/fcos_r18_real-finetune_fish4knowledge-mini.py' in FINETUNES and len(FINETUNES) >= 6


@pytest.mark.parametrize('config', FINETUNES)
def test_every_finetune_config_checks_its_load(config):
    cfg = Config.fromfile(REPO / 'configs' / config)
    assert cfg.load_from, f'{config} fine-tunes from nothing'
    checks = [h for h in cfg.custom_hooks if h.type == 'PretrainLoadCheckHook']
    assert len(checks) == 1, f'{config}: no PretrainLoadCheckHook, a backbone that did not load would go unnoticed'
    assert {'backbone.', 'neck.'} <= set(checks[0].get('required_prefixes', ('backbone.', 'neck.')))


def test_compare_state_dicts_categories():
    from mmgen_det.engine.hooks.load_check_hook import compare_state_dicts
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    del state['0.bias']
    state['1.weight'] = torch.zeros(1, 4)
    state['1.bias'] = state['1.bias'] + 1
    state['extra'] = torch.zeros(1)
    report = compare_state_dicts(model, state, 'ck.pth')
    assert report.missing == ['0.bias'] and report.unexpected == ['extra']
    assert report.shape_mismatch == ['1.weight (checkpoint (1, 4), model (1, 3))']
    assert report.value_mismatch == ['1.bias']
    assert report.not_loaded(('0.',)) == ['0.bias']
    assert report.summary().startswith('1/4 model tensors loaded from ck.pth')
