"""mmdet's STOCK train.py with a synthetic-pretrain config generates the set, then trains on all of it;
the hook generates only for datasets its own Runner builds, until its run starts, found without looking
at the call stack."""
from __future__ import annotations

import gc
import json
import re
from pathlib import Path

import pytest
import torch
from conftest import FISH_CLASSES
from helpers import REPO, run_tool, stock_mmdet_tool
from mmengine.model import BaseModel

from mmgen_det.engine.hooks.generation_hook import GLIGENGenerationHook, current_generation_hook

PRETRAIN_CFG = REPO / 'configs' / 'demo' / 'fcos_r18_synthetic-pretrain_fish4knowledge-mini.py'


def write_config(tmp_path: Path, fish_coco: Path, synthetic_root: Path, num_images: int) -> Path:
    root = f'{fish_coco}/'
    real_ann = f'{fish_coco}/annotations/train.json'
    text = f'''
_base_ = {str(PRETRAIN_CFG)!r}
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root={f"{synthetic_root}/"!r},
                 generation=dict(num_images={num_images}, batch_size=4,
                                 layout=dict(ann_file={real_ann!r}),
                                 generator=dict(ann_file={real_ann!r}, img_root={root!r}))))
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(data_root={root!r}))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file={root + 'annotations/val.json'!r})
test_evaluator = val_evaluator
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=1, val_interval=10)
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, begin=0, end=1, milestones=[1])]
default_hooks = dict(checkpoint=dict(_delete_=True, type='CheckpointHook', interval=1, by_epoch=True),
                     logger=dict(interval=1))
log_processor = dict(by_epoch=True)
'''
    path = tmp_path / 'pretrain_cfg.py'
    path.write_text(text)
    return path


def test_stock_train_generates_then_trains_on_the_whole_set(tmp_path, fish_coco):
    synthetic_root = tmp_path / 'synthetic'
    cfg = write_config(tmp_path, fish_coco, synthetic_root, num_images=6)
    work = tmp_path / 'work'
    proc = run_tool([stock_mmdet_tool('train.py'), str(cfg), '--work-dir', str(work)])
    log = proc.stdout + proc.stderr
    coco = json.loads((synthetic_root / 'annotations.json').read_text())
    assert len(coco['images']) == 6
    assert '6 generated now' in log
    # 6 images at batch 2: the epoch built AFTER generation has 3 iterations
    assert re.search(r'Epoch\(train\)\s+\[1\]\[3/3\]', log), log[-3000:]
    assert (work / 'epoch_1.pth').is_file()

    # a second run finds the set complete and goes straight to training
    proc = run_tool([stock_mmdet_tool('train.py'), str(cfg), '--work-dir', str(tmp_path / 'work2')])
    log = proc.stdout + proc.stderr
    assert '0 generated now' in log and re.search(r'\[1\]\[3/3\]', log)


def test_missing_set_without_hook_is_a_clear_error(tmp_path, fish_coco):
    cfg = write_config(tmp_path, fish_coco, tmp_path / 'never_made', num_images=2)
    proc = run_tool([stock_mmdet_tool('train.py'), str(cfg), '--work-dir', str(tmp_path / 'w'),
                     '--cfg-options', 'custom_hooks=[]'], check=False)
    assert proc.returncode != 0
    assert 'the synthetic set has not been generated' in proc.stderr + proc.stdout
    assert 'GLIGENGenerationHook' in proc.stderr + proc.stdout


class ToyModel(BaseModel):
    """A Runner needs a model; these tests build its dataloader and run an epoch over it."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def forward(self, *args, mode='tensor', **data):
        return dict(loss=self.weight.sum())


def dataset_cfg(tmp_path: Path, fish_coco: Path, name: str) -> dict:
    """A copy-paste set of 2 images at ``tmp_path/name``, not generated yet."""
    real_ann = str(fish_coco / 'annotations' / 'train.json')
    generation = dict(num_images=2, batch_size=2, image_format='png',
                      layout=dict(ann_file=real_ann, strategy='copy', width=360, height=200, min_box_cells=0.5),
                      generator=dict(type='copy_paste', ann_file=real_ann, img_root=str(fish_coco)))
    return dict(type='SyntheticDetDataset', data_root=f'{tmp_path / name}/', ann_file='annotations.json',
                data_prefix=dict(img=''), metainfo=dict(classes=FISH_CLASSES), pipeline=[], generation=generation)


def build_runner(tmp_path: Path, fish_coco: Path, name: str, with_hook: bool, dataset: dict | None = None,
                 hooks: list | None = None):
    from mmengine.runner import Runner
    hook = [dict(type='GLIGENGenerationHook', progress=False)] if with_hook else []
    return Runner(model=ToyModel(), work_dir=str(tmp_path / f'work_{name}'), experiment_name=name,
                  train_dataloader=dict(dataset=dataset or dataset_cfg(tmp_path, fish_coco, name),
                                        sampler=dict(type='DefaultSampler', shuffle=False), batch_size=1,
                                        num_workers=0, collate_fn=dict(type='pseudo_collate')),
                  train_cfg=dict(by_epoch=True, max_epochs=1), optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
                  custom_hooks=hook if hooks is None else hooks, default_scope='mmdet')


def test_hook_generates_only_for_its_own_runner(tmp_path, fish_coco):
    """Two Runners in one process: the second, without the hook, must not generate through the
    first's, and neither must a dataset built outside any Runner."""
    from mmdet.registry import DATASETS
    first = build_runner(tmp_path, fish_coco, 'first', with_hook=True)
    assert len(first.train_loop.dataloader.dataset) == 2  # generated while its dataloader was built
    second = build_runner(tmp_path, fish_coco, 'second', with_hook=False)
    with pytest.raises(FileNotFoundError, match='the synthetic set has not been generated'):
        second.train_loop
    with pytest.raises(FileNotFoundError, match='the synthetic set has not been generated'):
        DATASETS.build(dataset_cfg(tmp_path, fish_coco, 'second'))
    assert not (tmp_path / 'second').exists()
    third = build_runner(tmp_path, fish_coco, 'third', with_hook=True)
    assert len(third.train_loop.dataloader.dataset) == 2
    del first, second, third
    gc.collect()  # a Runner that is gone no longer lets datasets generate
    assert current_generation_hook() is None


def test_training_through_the_runner_generates_then_stops_granting(tmp_path, fish_coco):
    """``runner.train()`` generates the set inside a wrapper while it builds the dataloader; once the run
    has started (``before_run``), a dataset built by hand reads existing sets only."""
    from mmdet.registry import DATASETS
    dataset = dict(type='ConcatDataset', datasets=[dict(type='RepeatDataset', times=2,
                                                        dataset=dataset_cfg(tmp_path, fish_coco, 'wrapped'))])
    runner = build_runner(tmp_path, fish_coco, 'trained', with_hook=True, dataset=dataset)
    assert current_generation_hook() is next(h for h in runner.hooks if isinstance(h, GLIGENGenerationHook))
    runner.train()
    assert len(runner.train_dataloader.dataset) == 4 and (tmp_path / 'wrapped' / 'annotations.json').is_file()
    assert runner.iter == 4
    assert current_generation_hook() is None
    with pytest.raises(FileNotFoundError, match='the synthetic set has not been generated'):
        DATASETS.build(dataset_cfg(tmp_path, fish_coco, 'after_the_run'))
    assert len(DATASETS.build(dataset_cfg(tmp_path, fish_coco, 'wrapped'))) == 2  # an existing set is read


def test_a_hook_built_outside_the_runner_generates_nothing(tmp_path, fish_coco):
    """The hook enrols with the Runner that builds it; one handed over as an object does not."""
    from mmdet.registry import HOOKS
    hook = HOOKS.build(dict(type='GLIGENGenerationHook', progress=False))
    runner = build_runner(tmp_path, fish_coco, 'handed', with_hook=False, hooks=[hook])
    with pytest.raises(FileNotFoundError, match='the synthetic set has not been generated'):
        runner.train_loop
    assert not (tmp_path / 'handed').exists()


def test_no_module_inspects_the_call_stack():
    """How a dataset learns it may generate is explicit (the hook enrols with its Runner's experiment);
    nothing walks Python frames to find a Runner."""
    frame_walking = re.compile(r'inspect\.(stack|currentframe|getouterframes)|sys\._getframe|\bf_back\b|\bf_locals\b')
    found = [f'{path.relative_to(REPO)}:{number}' for path in sorted((REPO / 'mmgen_det').rglob('*.py'))
             for number, line in enumerate(path.read_text().splitlines(), 1) if frame_walking.search(line)]
    assert found == []
