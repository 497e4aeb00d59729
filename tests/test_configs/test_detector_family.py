"""The detector family (configs/{faster_rcnn,fcos,retinanet,mobilenet}): every config parses, a
detector's files add only the model to the shared kind base (fine-tunes: only ``load_from`` to the
real-only config and the fine-tune base), each model trains and predicts at a tiny scale from a scratch
backbone (allowed explicitly: unfrozen, announced), and labels keep their class from the synthetic to
the real dataset."""
from __future__ import annotations

import ast
import copy
import functools
import json
import logging
import math
from pathlib import Path

import pytest
from helpers import REPO
from mmengine.config import Config

FISH_CLASSES = ('0', '1', '2', '5', '6', '7', '8')
MODELS_DIR = REPO / 'configs' / '_base_' / 'models'
FAMILY = {  # model base (configs/_base_/models/<name>.py) -> config folder
    'faster-rcnn_r50_fpn_frozen-imagenet': 'faster_rcnn',
    'fcos_r50_fpn': 'fcos',
    'retinanet_r50_fpn': 'retinanet',
    'faster-rcnn_mobilenetv2_fpn': 'mobilenet',
    'ssdlite_mobilenetv2': 'mobilenet',
}
KINDS = ('real-only', 'synthetic-pretrain', 'real-finetune')
TINY_SCALE = (96, 54)  # the dataset's 720x404 shrunk, so that CPU steps of the R50 detectors stay short


def family_config(model: str, kind: str) -> Path:
    return REPO / 'configs' / FAMILY[model] / f'{model}_{kind}_fish4knowledge.py'


@functools.lru_cache(maxsize=None)
def _parse(path: Path) -> Config:
    return Config.fromfile(path)


def load(path: Path) -> Config:
    """A fresh copy of the parsed config (parsing one with `mmdet::` bases takes about a second)."""
    return copy.deepcopy(_parse(path))


def bbox_head(cfg: Config) -> dict:
    return cfg.model.bbox_head if 'bbox_head' in cfg.model else cfg.model.roi_head.bbox_head


def test_family_is_complete():
    expected = {family_config(m, k) for m in FAMILY for k in KINDS}
    found = {p for folder in set(FAMILY.values()) for p in (REPO / 'configs' / folder).glob('*.py')}
    assert found == expected


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('model', FAMILY)
def test_config_parses(model, kind):
    cfg = load(family_config(model, kind))
    assert bbox_head(cfg).num_classes == len(FISH_CLASSES)
    assert cfg.model.backbone.init_cfg.type == 'PretrainedOrScratch'
    assert 'mmgen_det' in cfg.custom_imports.imports
    train = cfg.train_dataloader.dataset
    assert tuple(train.metainfo.classes) == tuple(cfg.val_dataloader.dataset.metainfo.classes) == FISH_CLASSES
    assert cfg.default_hooks.checkpoint.save_best == 'coco/bbox_mAP'
    assert 100 in cfg.val_evaluator.get('proposal_nums', (100, 300, 1000))  # else mAP reads -1
    hooks = [h.type for h in cfg.get('custom_hooks', [])]
    if kind == 'real-only':
        assert (train.type, hooks, cfg.load_from) == ('CocoDataset', [], None)
    elif kind == 'synthetic-pretrain':
        assert (train.type, hooks, cfg.load_from) == ('SyntheticDetDataset', ['GLIGENGenerationHook'], None)
        assert train.generation.generator.type == 'gligen'
    else:
        assert (train.type, hooks) == ('CocoDataset', ['PretrainLoadCheckHook'])
        assert cfg.custom_hooks[0].required_prefixes == ('backbone.', 'neck.')
        assert cfg.load_from == (f'work_dirs/{model}_synthetic-pretrain_fish4knowledge/'
                                 f'iter_{cfg.train_cfg.max_iters}.pth')


def own_assignments(path: Path) -> dict[str, str]:
    """The top-level assignments a config file makes itself: name -> source text."""
    text = path.read_text()
    return {node.targets[0].id: ast.get_source_segment(text, node.value)
            for node in ast.parse(text).body if isinstance(node, ast.Assign)}


@pytest.mark.parametrize('kind', ('real-only', 'synthetic-pretrain'))
@pytest.mark.parametrize('model', FAMILY)
def test_family_config_is_its_model_on_the_kind_base(model, kind):
    """Everything but the model lives once, in configs/_base_/family/<kind>_fish4knowledge.py."""
    own = own_assignments(family_config(model, kind))
    assert ast.literal_eval(own.pop('_base_')) == [f'../_base_/models/{model}.py',
                                                   f'../_base_/family/{kind}_fish4knowledge.py']
    assert list(own) == ['model'] and 'num_classes={{_base_.num_classes}}' in own['model']


FINETUNES = sorted((REPO / 'configs').glob('*/*_real-finetune_*.py'))


def test_finetunes_are_found():
    assert {family_config(m, 'real-finetune') for m in FAMILY} < set(FINETUNES)  # and the CPU demo's


@pytest.mark.parametrize('path', FINETUNES, ids=lambda p: p.name)
def test_finetune_is_the_real_only_config_on_the_finetune_base(path):
    """A fine-tune is its detector's real-only config plus the shared fine-tune base and the pretrain's
    checkpoint, so it trains on the same real data and classes as the real-only baseline."""
    real_only_path = path.with_name(path.name.replace('_real-finetune_', '_real-only_'))
    own = own_assignments(path)
    assert ast.literal_eval(own.pop('_base_')) == [f'./{real_only_path.name}', '../_base_/finetune/real_finetune.py']
    assert list(own) == ['load_from']
    cfg, real_only = load(path), load(real_only_path)
    assert bbox_head(cfg).num_classes == bbox_head(real_only).num_classes == len(FISH_CLASSES)
    assert cfg.train_dataloader.to_dict() == real_only.train_dataloader.to_dict()
    assert tuple(cfg.train_dataloader.dataset.metainfo.classes) == FISH_CLASSES
    assert [h.type for h in cfg.custom_hooks] == ['PretrainLoadCheckHook']


@pytest.fixture(scope='module')
def tiny_split(fish_coco: Path) -> tuple[str, str]:
    """4 training and 4 evaluation images of the shipped sample."""
    from mmgen_det.datasets import load_coco, make_subset
    names = []
    for split in ('train', 'test'):
        name = f'annotations/family_{split}_4.json'
        coco = make_subset(load_coco(fish_coco / f'annotations/{split}.json'), 4, seed=0)
        (fish_coco / name).write_text(json.dumps(coco))
        names.append(name)
    return names[0], names[1]


def tiny_cfg(path: Path, data_root: Path, split: tuple[str, str], work_dir: Path) -> tuple[Config, dict]:
    """``path`` at TINY_SCALE on 4 images: 2 iterations at batch 2, no validation during training, no
    checkpoints, no ImageNet file (scratch allowed); Faster R-CNN samples fewer RoIs (its 1024-wide RoI
    head on 512 RoIs per image would dominate a CPU step). Returns the config and its val dataloader
    config."""
    cfg = load(path)
    root, (train_ann, eval_ann) = f'{data_root}/', split
    for name, ann in (('train_dataloader', train_ann), ('val_dataloader', eval_ann)):
        cfg[name].update(batch_size=2, num_workers=0, persistent_workers=False)
        cfg[name].dataset.update(data_root=root, ann_file=ann)
        for step in cfg[name].dataset.pipeline:
            if step.type == 'Resize':
                step.scale = TINY_SCALE
    val_loader = cfg.val_dataloader
    for name in ('val', 'test'):
        cfg[f'{name}_dataloader'] = cfg[f'{name}_cfg'] = cfg[f'{name}_evaluator'] = None
    cfg.train_cfg.update(max_iters=2, val_interval=1000)
    cfg.default_hooks.update(checkpoint=None, logger=dict(type='LoggerHook', interval=1))
    cfg.model.backbone.init_cfg.update(checkpoint=str(work_dir / 'no-imagenet-here.pth'), allow_scratch=True)
    if 'roi_head' in cfg.model:
        cfg.model.train_cfg.rpn_proposal.max_per_img = 100
        cfg.model.train_cfg.rcnn.sampler.num = 64
        cfg.model.test_cfg.rpn.max_per_img = 100
    cfg.work_dir = str(work_dir)
    return cfg, val_loader


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.mark.parametrize('model', FAMILY)
def test_model_trains_and_predicts_from_scratch(model, fish_coco, tiny_split, tmp_path):
    """Two training steps and a prediction; the missing ImageNet file, with scratch allowed, unfreezes
    the backbone."""
    from mmengine.runner import Runner
    cfg, val_loader = tiny_cfg(family_config(model, 'real-only'), fish_coco, tiny_split, tmp_path)
    runner = Runner.from_cfg(cfg)
    records = Records()
    runner.logger.addHandler(records)
    runner.train()
    runner.logger.removeHandler(records)
    results = runner.model.val_step(next(iter(Runner.build_dataloader(val_loader))))

    losses = {k: v for k, v in runner.message_hub.log_scalars.items() if k.startswith('train/loss')}
    assert losses and all(math.isfinite(v.current()) for v in losses.values())
    assert len(results) == 2
    for result in results:
        pred = result.pred_instances
        assert pred.bboxes.shape == (len(pred), 4) and (pred.labels < len(FISH_CLASSES)).all()
    backbone = runner.model.backbone
    assert backbone.init_source == 'scratch'
    assert backbone.frozen_stages == -1 and not backbone.norm_eval
    assert all(p.requires_grad for p in backbone.parameters())
    assert any('FROM SCRATCH' in m for m in records.messages), records.messages


def test_imagenet_file_keeps_the_backbone_frozen(tmp_path):
    """With the ImageNet file present the reference recipe holds: every backbone weight comes from the
    file (mmcv ConvModules' own Kaiming init must not overwrite MobileNetV2's conv1/conv2 after the
    load), and the backbone stays frozen."""
    import torch
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    import mmgen_det  # noqa: F401  registers the package's modules
    register_all_modules()
    cfg = load(MODELS_DIR / 'faster-rcnn_mobilenetv2_fpn.py')
    reference = MODELS.build(cfg.model.backbone)
    ckpt = tmp_path / 'mobilenetv2_imagenet.pth'
    torch.save(reference.state_dict(), ckpt)
    cfg.model.backbone.init_cfg.checkpoint = str(ckpt)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    backbone = model.backbone
    assert backbone.init_source.startswith(f'{ckpt} (sha256 ')
    assert all(torch.equal(v, reference.state_dict()[k]) for k, v in backbone.state_dict().items())
    trainable = {name.split('.')[0] for name, p in backbone.named_parameters() if p.requires_grad}
    assert trainable == {'conv2'}  # MobileNetV2 cannot freeze its last 1x1 conv
    assert not any(m.training for m in backbone.modules() if isinstance(m, torch.nn.BatchNorm2d))


def write_synthetic_set(root: Path, categories: list[str]) -> None:
    root.mkdir(parents=True)
    coco = {'images': [{'id': 1, 'file_name': 'images/000000000.jpg', 'width': 360, 'height': 200}],
            'annotations': [{'id': 1, 'image_id': 1, 'category_id': 3, 'bbox': [10, 10, 20, 12],
                             'area': 240, 'iscrowd': 0}],
            'categories': [{'id': i + 1, 'name': n} for i, n in enumerate(categories)]}
    (root / 'annotations.json').write_text(json.dumps(coco))


def test_synthetic_labels_mean_the_real_classes(fish_coco, tmp_path):
    """label k is the same class in the synthetic (pretrain) and the real (fine-tune) dataset; a set
    whose categories come in another order is refused instead of silently swapping labels."""
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules

    import mmgen_det  # noqa: F401  registers the package's modules
    register_all_modules()
    model = 'faster-rcnn_r50_fpn_frozen-imagenet'
    pretrain = load(family_config(model, 'synthetic-pretrain')).train_dataloader.dataset
    finetune = load(family_config(model, 'real-finetune')).train_dataloader.dataset
    pretrain.pop('generation')  # an existing set: read it, generate nothing

    def label_names(dataset) -> list[str]:
        """The category name of label 0, 1, ... as the dataset maps them (``cat2label``)."""
        names = {c['id']: c['name'] for c in json.loads(Path(dataset.ann_file).read_text())['categories']}
        return [names[c] for c in sorted(dataset.cat2label, key=dataset.cat2label.get)]

    write_synthetic_set(tmp_path / 'same', list(FISH_CLASSES))
    synthetic = DATASETS.build(dict(pretrain, data_root=f'{tmp_path}/same/', pipeline=[]))
    real = DATASETS.build(dict(finetune, data_root=f'{fish_coco}/', pipeline=[]))
    assert label_names(synthetic) == label_names(real) == list(FISH_CLASSES)

    write_synthetic_set(tmp_path / 'reversed', list(reversed(FISH_CLASSES)))
    with pytest.raises(ValueError, match='do not match metainfo classes'):
        DATASETS.build(dict(pretrain, data_root=f'{tmp_path}/reversed/', pipeline=[])).full_init()
