"""End to end on real Fish4Knowledge frames: train a tiny filter detector with mmdet's stock train.py,
score a copy-paste set with tools/pr_filter.py, and load it with SyntheticDetDataset.

One detector (a few iterations, from scratch: it only has to produce *some* boxes) and one set are
shared by the module. Whether the filter *discriminates* is measured in benchmarks/filter_auc.py.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, run_tool, stock_mmdet_tool

from mmgen_det.generation import generate_synthetic_set

FILTER_CFG = REPO / 'configs' / 'filter' / 'faster-rcnn_r18-w16_fpn_scratch-filter_fish4knowledge-mini.py'
CLASSES = ('0', '1', '2', '5', '6', '7', '8')
SCORE_THR = 0.05  # a barely trained detector scores low; keep enough of its boxes to get varied scores
ITERS = 2
# the tools import mmgen_det from this checkout even where it is not pip-installed
ENV = {'PYTHONPATH': os.pathsep.join(filter(None, [str(REPO), os.environ.get('PYTHONPATH')]))}


@pytest.fixture(scope='module')
def filter_ckpt(fish_coco: Path, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp('filter_det')
    root = f'{fish_coco}/'
    run_tool([stock_mmdet_tool('train.py'), str(FILTER_CFG), '--work-dir', str(work), '--cfg-options',
              f'train_dataloader.dataset.data_root={root}', 'val_cfg=None', 'val_dataloader=None',
              'val_evaluator=None', f'train_cfg.max_iters={ITERS}', 'train_dataloader.batch_size=2',
              'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
              'default_hooks.checkpoint.interval=1000'], env=ENV)
    ckpt = work / f'iter_{ITERS}.pth'
    assert ckpt.is_file()
    return ckpt


@pytest.fixture(scope='module')
def synth_dir(fish_coco: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('synth') / 'set'
    ann = str(fish_coco / 'annotations' / 'train.json')
    generate_synthetic_set(dict(out_dir=str(out), num_images=8, seed=0, batch_size=5, image_format='png',
                                layout=dict(ann_file=ann, strategy='jitter', width=360, height=200,
                                            min_box_cells=0.5),
                                generator=dict(type='copy_paste', ann_file=ann, img_root=str(fish_coco))),
                           progress=False)
    return out


@pytest.fixture(scope='module')
def detector(filter_ckpt):
    from mmgen_det.filters.pr_filter import get_filter_detector
    return get_filter_detector(FILTER_CFG, filter_ckpt)


def synthetic_dataset(synth_dir: Path, pipeline=(), **filter_cfg):
    from mmgen_det.datasets.synthetic_dataset import SyntheticDetDataset
    return SyntheticDetDataset(data_root=str(synth_dir), ann_file='annotations.json', data_prefix=dict(img=''),
                               metainfo=dict(classes=CLASSES), filter_cfg=filter_cfg or None,
                               pipeline=list(pipeline))


def test_tool_scores_the_set_and_the_dataset_keeps_exactly_the_passing_images(synth_dir, filter_ckpt):
    from mmgen_det.filters.matching import DEFAULT_MIN_RECALL
    from mmgen_det.filters.scoring import SCORES_DIR, kept_at, passes, stored_scores
    proc = run_tool(['tools/pr_filter.py', str(synth_dir), '--detector-config', str(FILTER_CFG),
                     '--checkpoint', str(filter_ckpt), '--score-thr', str(SCORE_THR), '--batch-size', '8',
                     '--min-precision', '0.1', '--no-progress'], env=ENV)
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith('pr_filter: ') and '8 images scored' in last and 'kept at' in last, proc.stdout
    assert 'min_P \\ min_R' in proc.stdout
    coco = json.loads((synth_dir / 'annotations.json').read_text())
    (key,) = coco['images'][0]['pr_filter']
    records = stored_scores(coco, key)
    assert len(records) == 8 and (synth_dir / SCORES_DIR / f'{key}.png').is_file()
    # what the thresholds keep is shown before they go into a config (--min-recall: the measured default)
    kept = kept_at(coco, key, 0.1, DEFAULT_MIN_RECALL)
    assert '\n'.join(kept.lines()) in proc.stdout
    assert ('pr_filter: WARNING: min_precision=0.1' in proc.stderr) == (kept.warning() is not None), proc.stderr
    log_before = (synth_dir / SCORES_DIR / f'{key}.jsonl').read_bytes()

    # a detector trained for two iterations scores most images alike; the varied-score case is
    # test_scoring.py's, with planted detections. Here: every stored value, and just above it, as a bound.
    values = sorted({r[m] for r in records.values() for m in ('precision', 'recall')} | {0.0, 1.0})
    bounds = sorted({min(v + 1e-6, 1.0) for v in values} | set(values))
    for min_p, min_r in [(None, None), *((b, None) for b in bounds), *((None, b) for b in bounds),
                         *((b, b) for b in bounds)]:
        expected = {i for i, r in records.items() if passes(r, min_p, min_r)}
        if not expected:  # an empty dataset is SyntheticDetDataset's own case, not the filter's
            continue
        cfg = {k: v for k, v in dict(min_precision=min_p, min_recall=min_r).items() if v is not None}
        dataset = synthetic_dataset(synth_dir, **cfg)
        assert {dataset.get_data_info(i)['img_id'] for i in range(len(dataset))} == expected, (min_p, min_r)
    # changing thresholds needed no inference: the log is untouched
    assert (synth_dir / SCORES_DIR / f'{key}.jsonl').read_bytes() == log_before


def test_batch_size_8_gives_the_scores_of_batch_size_1(synth_dir, detector):
    from mmgen_det.filters.pr_filter import MatchSettings, score_detections
    from mmgen_det.filters.scoring import decode_image, layout_boxes, load_layouts
    coco = load_layouts(synth_dir)
    images = [decode_image(synth_dir / im['file_name']) for im in coco['images'][:8]]
    batched = detector.predict(images)
    single = [detector.predict([img])[0] for img in images]
    settings = MatchSettings(SCORE_THR, 0.5)
    boxes = layout_boxes(coco)
    for im, b, s in zip(coco['images'], batched, single):
        assert b.boxes.shape == s.boxes.shape
        # detections with (nearly) equal scores may come out in either order: compare them sorted by box
        ib, is_ = np.lexsort(np.round(b.boxes, 1).T[::-1]), np.lexsort(np.round(s.boxes, 1).T[::-1])
        np.testing.assert_allclose(b.boxes[ib], s.boxes[is_], atol=1e-3)
        np.testing.assert_allclose(b.scores[ib], s.scores[is_], atol=1e-5)
        gt = boxes[im['id']][0]
        assert score_detections(b, gt, None, settings) == score_detections(s, gt, None, settings)


def test_prfilter_transform_in_a_pipeline_gives_the_stored_scores(synth_dir, filter_ckpt, detector):
    from mmgen_det.filters.pr_filter import MatchSettings, pr_key
    from mmgen_det.filters.scoring import score_set
    settings = MatchSettings(SCORE_THR, 0.5)
    key = score_set(synth_dir, detector, settings, progress=False).key  # no-op when the tool ran first
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True),
                dict(type='PRFilter', detector_config=str(FILTER_CFG), checkpoint=str(filter_ckpt),
                     score_thr=SCORE_THR, iou_thr=0.5, class_aware=True, classes=CLASSES)]
    dataset = synthetic_dataset(synth_dir, pipeline)
    results = dataset[0]
    stored = dataset.get_data_info(0)['pr_filter'][key]
    aware_key = pr_key(detector.identity['sha256'], MatchSettings(SCORE_THR, 0.5, class_aware=True))
    assert results['pr_key'] == aware_key
    assert set(results['pr_filter']) >= {key, aware_key}, 'stored scores are kept next to the new one'
    agnostic = results['pr_filter'][key]
    assert (agnostic['precision'], agnostic['recall']) == (stored['precision'], stored['recall'])
    aware = results['pr_filter'][aware_key]
    assert aware['num_matched'] <= stored['num_matched'] and aware['thresholds']['class_aware'] is True


def test_prfilter_refuses_to_drop_and_needs_its_files(filter_ckpt, tmp_path):
    from mmdet.registry import TRANSFORMS
    base = dict(type='PRFilter', detector_config=str(FILTER_CFG), checkpoint=str(filter_ckpt))
    with pytest.raises(ValueError, match='does not drop samples.*filter_cfg=dict\\(min_precision'):
        TRANSFORMS.build(dict(base, min_precision=0.5))
    with pytest.raises(FileNotFoundError, match='checkpoint .*missing.pth does not exist'):
        TRANSFORMS.build(dict(base, checkpoint=str(tmp_path / 'missing.pth')))
    with pytest.raises(FileNotFoundError, match='config .*nope.py does not exist'):
        TRANSFORMS.build(dict(base, detector_config=str(tmp_path / 'nope.py')))
    with pytest.raises(ValueError, match='needs classes='):
        TRANSFORMS.build(dict(base, class_aware=True))
    with pytest.raises(ValueError, match='iou_thr must be in'):
        TRANSFORMS.build(dict(base, iou_thr=2))


def test_tool_reports_bad_input_before_loading_anything(synth_dir, filter_ckpt, tmp_path):
    proc = run_tool(['tools/pr_filter.py', str(synth_dir), '--detector-config', str(FILTER_CFG),
                     '--checkpoint', str(filter_ckpt), '--score-thr', '1.5'], check=False, env=ENV)
    assert proc.returncode == 2 and '--score-thr: must be in [0, 1], got 1.5' in proc.stderr
    proc = run_tool(['tools/pr_filter.py', str(synth_dir), '--detector-config', str(FILTER_CFG),
                     '--checkpoint', str(tmp_path / 'missing.pth')], check=False, env=ENV)
    assert proc.returncode == 2 and 'missing.pth does not exist' in proc.stderr


def test_feature_distance_scores_are_stored_next_to_pr_scores(synth_dir, fish_coco, filter_ckpt):
    from mmengine.config import Config

    from mmgen_det.filters.feature_distance import FEATURE_DISTANCE_KEY, FeatureExtractor, score_set_feature_distance
    backbone = Config.fromfile(FILTER_CFG).model.backbone.to_dict()
    backbone.pop('init_cfg')
    extractor = FeatureExtractor(backbone, filter_ckpt, prefix='backbone.', input_size=(192, 128))
    key, records = score_set_feature_distance(synth_dir, extractor, fish_coco / 'annotations' / 'val.json',
                                              fish_coco, batch_size=16, progress=False)
    coco = json.loads((synth_dir / 'annotations.json').read_text())
    stored = {im['id']: im[FEATURE_DISTANCE_KEY][key] for im in coco['images']}
    assert stored == {i: json.loads(json.dumps(r)) for i, r in records.items()} and len(stored) == 8
    assert all(np.isfinite(r['distance']) and r['distance'] > 0 for r in stored.values())
    assert stored[0]['reference']['num_images'] == 50 and stored[0]['backbone']['prefix'] == 'backbone.'

    # a backbone the checkpoint does not fit (full-width ResNet-18) is refused, not left half random
    with pytest.raises(ValueError, match='does not fit the feature backbone'):
        FeatureExtractor(dict(type='ResNet', depth=18, out_indices=(3,)), filter_ckpt, prefix='backbone.')
    with pytest.raises(ValueError, match="no weights start with prefix 'neck_typo.'"):
        FeatureExtractor(backbone, filter_ckpt, prefix='neck_typo.')


def test_feature_distance_cli(synth_dir, fish_coco, filter_ckpt, tmp_path):
    import shutil
    set_dir = tmp_path / 'set'
    shutil.copytree(synth_dir, set_dir)
    args = ['tools/feature_distance.py', str(set_dir), '--real-ann', str(fish_coco / 'annotations' / 'val.json'),
            '--checkpoint', str(filter_ckpt), '--backbone-config', str(FILTER_CFG), '--prefix', 'backbone.',
            '--input-size', '192', '128', '--no-progress']
    proc = run_tool(args, env=ENV)
    key = re.search(r"feature_key='([^']+)'", proc.stdout)[1]
    assert 'max_feature_distance=' in proc.stdout and '(quantile 1.00): 8/8' in proc.stdout
    coco = json.loads((set_dir / 'annotations.json').read_text())
    assert all(im['feature_distance'][key]['distance'] > 0 for im in coco['images'])
    assert 'already scored' in run_tool(args, env=ENV).stdout  # no second extraction
    proc = run_tool([*args[:-1], '--checkpoint', str(tmp_path / 'missing.pth')], check=False, env=ENV)
    assert proc.returncode == 1 and 'missing.pth does not exist' in proc.stderr


def test_feature_distance_defaults_to_the_pip_installed_imagenet_backbone(synth_dir, fish_coco, tmp_path):
    """No checkpoint to bring: the default scorer is the ImageNet EfficientNet-Lite0 with its own
    normalisation, recorded with the package file's hash; another backbone still needs its checkpoint."""
    import shutil
    set_dir = tmp_path / 'set'
    shutil.copytree(synth_dir, set_dir)
    args = ['tools/feature_distance.py', str(set_dir), '--real-ann', str(fish_coco / 'annotations' / 'val.json'),
            '--input-size', '192', '128', '--no-progress']
    key = re.search(r"feature_key='([^']+)'", run_tool(args, env=ENV).stdout)[1]
    records = [im['feature_distance'][key] for im in json.loads((set_dir / 'annotations.json').read_text())['images']]
    assert all(np.isfinite(r['distance']) and r['distance'] > 0 for r in records)
    backbone = records[0]['backbone']
    assert backbone['checkpoint'] == 'packaged://efficientnet-lite0' and backbone['config']['type'] == 'EfficientNetLite'
    assert backbone['mean'] == [127.0] * 3 and backbone['std'] == [128.0] * 3 and len(backbone['sha256']) == 64
    proc = run_tool([*args, '--depth', '18'], check=False, env=ENV)
    assert proc.returncode == 1 and '--checkpoint is needed' in proc.stderr


@pytest.fixture(scope='module')
def random_ckpt(tmp_path_factory) -> Path:
    """Untrained weights of the filter config: the NMS test plants its own predictions."""
    import torch
    from mmdet.apis import init_detector
    model = init_detector(str(FILTER_CFG), None, device='cpu')
    path = tmp_path_factory.mktemp('random_filter') / 'random.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(dataset_meta=dict(classes=CLASSES))), path)
    return path


def test_nms_follows_the_matching_mode(random_ckpt, monkeypatch):
    """One fish, predicted as two species on the same box: one detection when matching is
    class-agnostic (else the twin is an extra detection and halves precision), both when class-aware."""
    import torch
    from mmengine.structures import InstanceData

    from mmgen_det.filters.pr_filter import FilterDetector, MatchSettings, score_detections
    detector = FilterDetector(FILTER_CFG, random_ckpt)
    fish = [100.0, 50.0, 140.0, 80.0]
    model, head = detector.model, detector.model.roi_head.bbox_head

    def proposals(x, data_samples, rescale=False):
        return [InstanceData(bboxes=torch.tensor([fish]), scores=torch.ones(1)) for _ in data_samples]

    def two_species(feats):  # classes 0 and 1 equally likely, box deltas zero: the proposal itself
        cls_score = torch.full((len(feats), head.num_classes + 1), -10.0)
        cls_score[:, :2] = 5.0
        return cls_score, torch.zeros(len(feats), 4 * head.num_classes)

    monkeypatch.setattr(model.rpn_head, 'predict', proposals)
    monkeypatch.setattr(head, 'forward', two_species)
    image = np.zeros((202, 360, 3), np.uint8)  # the config's test scale: predictions in this frame
    layout, labels = np.array([fish]), np.array([0])

    agnostic = detector.predict([image])[0]
    assert len(agnostic.scores) == 1
    np.testing.assert_allclose(agnostic.boxes[0], fish, atol=1e-3)
    score = score_detections(agnostic, layout, None, MatchSettings(0.05, 0.3))
    assert (score.precision, score.recall) == (1.0, 1.0)

    aware = detector.predict([image], class_aware=True)[0]
    assert sorted(aware.labels.tolist()) == [0, 1]
    score = score_detections(aware, layout, labels, MatchSettings(0.05, 0.3, class_aware=True))
    assert (score.precision, score.recall) == (0.5, 1.0)  # the second species is a wrong detection
    assert len(detector.predict([image])[0].scores) == 1, 'the mode is set by every call, not left over'
