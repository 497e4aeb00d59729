"""Scoring a whole set with a stand-in detector (no training): storage, resume, bad input, filtering.

The stand-in "detects" whatever the test planted for an image; images are told apart by their fill
value, so the scoring code runs exactly as with a real detector.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmgen_det.filters.matching import (DEFAULT_IOU_THR, DEFAULT_MIN_PRECISION, DEFAULT_MIN_RECALL,
                                        DEFAULT_SCORE_THR)
from mmgen_det.filters.pr_filter import Detections, FilterDetector, MatchSettings, pr_key
from mmgen_det.filters.scoring import (MIN_KEPT_FRACTION, SCORES_DIR, kept_at, passes, score_set, stored_scores,
                                       survival_table)

REPO = Path(__file__).resolve().parents[2]

CLASSES = ('0', '1', '2', '5', '6', '7', '8')
W, H = 64, 48
# image id -> layout boxes (xyxy) and labels; fill value = id
LAYOUT = {0: ([[0, 0, 10, 10], [20, 20, 30, 30]], ['0', '1']),
          1: ([[0, 0, 10, 10]], ['0']),
          2: ([[5, 5, 15, 15]], ['2']),
          3: ([], []),
          4: ([[30, 30, 40, 40]], ['5'])}
# what the stand-in detects (boxes, scores, label names) per image
PLANTED = {0: ([[0, 0, 10, 10], [20, 20, 30, 30]], [0.9, 0.8], ['0', '1']),   # P 1,   R 1
           1: ([[40.04, 30.06, 50, 40], [3, 3, 9, 8], [0, 0, 10, 10]],        # P 0.5, R 1 (one too weak)
               [0.71234, 0.01, 0.9], ['0', '1', '0']),
           2: ([], [], []),                                                   # P 1,   R 0
           3: ([[0, 0, 10, 10]], [0.9], ['0']),                               # P 0,   R 1
           4: ([[30, 30, 40, 40]], [0.95], ['6'])}                            # agnostic 1/1, aware 0/0
EXPECTED = {0: (1.0, 1.0), 1: (0.5, 1.0), 2: (1.0, 0.0), 3: (0.0, 1.0), 4: (1.0, 1.0)}
# the layout box each kept detection took (highest score first), -1: a false positive
LAYOUT_BOX = {0: [0, 1], 1: [0, -1], 2: [], 3: [-1], 4: [0]}


class StandIn(FilterDetector):
    def __init__(self, classes=CLASSES, sha='ab' * 32, fail_after: int | None = None) -> None:
        self.classes = tuple(classes)
        self.identity = dict(config='standin.py', config_sha256='0' * 64, checkpoint='standin.pth', sha256=sha)
        self.calls, self.fail_after, self.nms_modes = [], fail_after, set()

    def predict(self, images, class_aware=False):
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise KeyboardInterrupt('simulated kill')
        ids = [int(img[0, 0, 0]) for img in images]
        self.calls.append(ids)
        self.nms_modes.add(class_aware)
        out = []
        for i in ids:
            boxes, scores, names = PLANTED[i]
            out.append(Detections(np.asarray(boxes, float).reshape(-1, 4), np.asarray(scores, float),
                                  np.array([self.classes.index(n) for n in names], dtype=np.int64)))
        return out


def make_set(root: Path) -> Path:
    (root / 'images').mkdir(parents=True)
    images, anns = [], []
    for i, (boxes, names) in LAYOUT.items():
        name = f'images/{i:09d}.png'
        Image.fromarray(np.full((H, W, 3), i, np.uint8)).save(root / name)
        images.append(dict(id=i, file_name=name, width=W, height=H, generation=dict(seed=i)))
        for (x1, y1, x2, y2), n in zip(boxes, names):
            anns.append(dict(id=len(anns) + 1, image_id=i, category_id=CLASSES.index(n) + 1,
                             bbox=[x1, y1, x2 - x1, y2 - y1], area=(x2 - x1) * (y2 - y1), iscrowd=0))
    cats = [dict(id=k + 1, name=n) for k, n in enumerate(CLASSES)]
    (root / 'annotations.json').write_text(json.dumps(dict(images=images, annotations=anns, categories=cats)))
    return root


def read(root: Path) -> dict:
    return json.loads((root / 'annotations.json').read_text())


def test_scores_stored_per_image_under_the_key(tmp_path):
    root = make_set(tmp_path / 'set')
    settings = MatchSettings(score_thr=0.3, iou_thr=0.5)
    summary = score_set(root, StandIn(), settings, batch_size=2, progress=False)
    key = pr_key('ab' * 32, settings)
    assert summary.key == key == 'abababababab_s0.3_i0.5_agnostic'
    assert (summary.num_images, summary.scored_now, summary.failed) == (5, 5, 0)
    coco = read(root)
    records = stored_scores(coco, key)
    assert {i: (r['precision'], r['recall']) for i, r in records.items()} == EXPECTED
    rec = records[1]
    assert (rec['num_detections'], rec['num_matched'], rec['num_boxes']) == (2, 1, 1)
    assert rec['matches'] == [[0, 0.9, 1.0]]
    # the detections the matching used: above score_thr, highest first, rounded, false positive included
    assert rec['detections'] == dict(bboxes=[[0, 0, 10, 10], [40.0, 30.1, 50, 40]], classes=['0', '0'],
                                     scores=[0.9, 0.712], layout_box=[0, -1])
    for i, (boxes, scores, names) in PLANTED.items():
        order = sorted((k for k in range(len(scores)) if scores[k] >= 0.3), key=lambda k: -scores[k])
        dets = records[i]['detections']
        assert np.allclose(np.reshape(dets['bboxes'], (-1, 4)), np.reshape([boxes[k] for k in order], (-1, 4)),
                           atol=0.05), i
        assert dets['scores'] == pytest.approx([scores[k] for k in order], abs=5e-4), i
        assert dets['classes'] == [names[k] for k in order] and dets['layout_box'] == LAYOUT_BOX[i], i
    assert rec['detector']['sha256'] == 'ab' * 32
    assert rec['thresholds'] == dict(score_thr=0.3, iou_thr=0.5, class_aware=False, nms='class-agnostic')
    assert all(im['generation']['seed'] == im['id'] for im in coco['images']), 'other fields must survive'


def test_several_keys_coexist_and_rescoring_is_a_no_op(tmp_path):
    root = make_set(tmp_path / 'set')
    agnostic, aware_detector = StandIn(), StandIn()
    score_set(root, agnostic, MatchSettings(0.3, 0.5), progress=False)
    score_set(root, StandIn(sha='cd' * 32), MatchSettings(0.3, 0.5), progress=False)
    aware = score_set(root, aware_detector, MatchSettings(0.3, 0.5, class_aware=True), progress=False)
    assert aware.key.endswith('_classaware')
    assert (agnostic.nms_modes, aware_detector.nms_modes) == ({False}, {True}), 'NMS follows the matching'
    coco = read(root)
    assert all(len(im['pr_filter']) == 3 for im in coco['images'])
    assert stored_scores(coco, aware.key)[4]['precision'] == 0.0  # right place, wrong species
    assert stored_scores(coco, aware.key)[4]['detections']['layout_box'] == [-1]
    detector = StandIn()
    again = score_set(root, detector, MatchSettings(0.3, 0.5), progress=False)
    assert (again.already_done, again.scored_now, detector.calls) == (5, 0, [])


def test_killed_run_resumes_without_rescoring(tmp_path):
    root = make_set(tmp_path / 'set')
    settings = MatchSettings(0.3, 0.5)
    with pytest.raises(KeyboardInterrupt):
        score_set(root, StandIn(fail_after=1), settings, batch_size=2, progress=False)
    assert 'pr_filter' not in read(root)['images'][0], 'annotations.json is only written at the end'
    log = root / SCORES_DIR / f'{pr_key("ab" * 32, settings)}.jsonl'
    # the first batch as a version that stored no detections logged it: resumed as it is
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    for entry in lines[1:]:
        del entry['record']['detections']
    log.write_text(''.join(json.dumps(e) + '\n' for e in lines))
    with open(log, 'a') as f:
        f.write('{"image_id": 2, "rec')  # killed mid-append
    detector = StandIn()
    summary = score_set(root, detector, settings, batch_size=2, progress=False)
    assert (summary.already_done, summary.scored_now) == (2, 3)
    assert detector.calls == [[2, 3], [4]]
    records = stored_scores(read(root), summary.key)
    assert {i: (r['precision'], r['recall']) for i, r in records.items()} == EXPECTED
    assert [i for i, r in records.items() if 'detections' in r] == [2, 3, 4]
    assert len(log.read_text().splitlines()) == 1 + 5


def test_log_of_other_detector_settings_is_refused(tmp_path):
    root = make_set(tmp_path / 'set')
    score_set(root, StandIn(), MatchSettings(0.3, 0.5), progress=False)
    other = StandIn()
    other.identity = dict(other.identity, config_sha256='1' * 64)
    with pytest.raises(ValueError, match='other detector settings'):
        score_set(root, other, MatchSettings(0.3, 0.5), progress=False)
    # a log written before the NMS followed the matching mode (no "nms" recorded) is not resumed
    log = root / SCORES_DIR / f'{pr_key("ab" * 32, MatchSettings(0.3, 0.5))}.jsonl'
    lines = log.read_text().splitlines(keepends=True)
    header = json.loads(lines[0])
    del header['header']['thresholds']['nms']
    log.write_text(json.dumps(header) + '\n' + ''.join(lines[1:]))
    with pytest.raises(ValueError, match='other detector settings'):
        score_set(root, StandIn(), MatchSettings(0.3, 0.5), progress=False)


def test_undecodable_image_is_reported_counted_and_fails_thresholds(tmp_path, capsys):
    root = make_set(tmp_path / 'set')
    (root / 'images' / '000000001.png').write_bytes(b'not a png')
    summary = score_set(root, StandIn(), MatchSettings(0.3, 0.5), progress=False)
    assert (summary.failed, summary.scored_now) == (1, 4)
    assert 'image 1 skipped' in capsys.readouterr().out
    rec = stored_scores(read(root), summary.key)[1]
    assert (rec['precision'], rec['recall']) == (0.0, 0.0) and 'cannot decode' in rec['error']
    assert 'failed to decode' in summary.line()


def test_set_without_layouts(tmp_path):
    with pytest.raises(FileNotFoundError, match='annotations.json: no such file'):
        score_set(tmp_path, StandIn(), MatchSettings(), progress=False)
    (tmp_path / 'annotations.json').write_text(json.dumps(dict(images=[], categories=[])))
    with pytest.raises(ValueError, match="no 'annotations' list"):
        score_set(tmp_path, StandIn(), MatchSettings(), progress=False)


def test_class_aware_needs_a_detector_of_the_same_classes(tmp_path):
    root = make_set(tmp_path / 'set')
    with pytest.raises(ValueError, match='80 classes.*the layouts have 7'):
        score_set(root, StandIn(classes=[f'c{i}' for i in range(80)]), MatchSettings(class_aware=True),
                  progress=False)
    # agnostic matching does not care what the detector's classes are
    score_set(root, StandIn(classes=CLASSES + ('x',)), MatchSettings(), progress=False)


def test_settings_and_batch_size_are_validated(tmp_path):
    with pytest.raises(ValueError, match=r'score_thr must be in \[0, 1\]'):
        MatchSettings(score_thr=1.2)
    with pytest.raises(ValueError, match='batch_size'):
        score_set(make_set(tmp_path / 'set'), StandIn(), MatchSettings(), batch_size=0, progress=False)


def test_survival_table_counts_inclusive_thresholds():
    records = [dict(precision=p, recall=r) for p, r in EXPECTED.values()]
    table = survival_table(records, grid=(0.0, 0.5, 1.0)).splitlines()
    assert [row.split()[1:] for row in table[1:]] == [['5', '4', '4'], ['4', '3', '3'], ['3', '2', '2']]
    assert passes(dict(precision=0.5, recall=1.0), 0.5, None)


def test_dataset_keeps_exactly_the_images_whose_stored_scores_pass(tmp_path):
    from mmgen_det.datasets.synthetic_dataset import SyntheticDetDataset
    root = make_set(tmp_path / 'set')
    key = score_set(root, StandIn(), MatchSettings(), progress=False).key
    coco = read(root)
    for im in coco['images'][:2]:  # records of a version that stored no detections load and filter alike
        del im['pr_filter'][key]['detections']
    (root / 'annotations.json').write_text(json.dumps(coco))
    records = stored_scores(coco, key)
    for min_p, min_r in [(0.0, 0.0), (0.5, None), (None, 0.5), (0.6, 0.5), (1.0, 1.0)]:
        cfg = {k: v for k, v in dict(min_precision=min_p, min_recall=min_r).items() if v is not None}
        dataset = SyntheticDetDataset(data_root=str(root), ann_file='annotations.json', data_prefix=dict(img=''),
                                      metainfo=dict(classes=CLASSES), filter_cfg=cfg, pipeline=[])
        expected = {i for i, r in records.items() if passes(r, min_p, min_r)}
        infos = [dataset.get_data_info(i) for i in range(len(dataset))]
        assert {info['img_id'] for info in infos} == expected, (min_p, min_r)
        assert all('detections' not in info['pr_filter'][key] for info in infos), 'kept out of data infos'
    assert len(expected) == 2 and len({len(x) for x in (records, expected)}) == 2


def test_kept_at_counts_images_boxes_and_classes_and_warns_under_a_tenth(tmp_path):
    root = make_set(tmp_path / 'set')
    key = score_set(root, StandIn(), MatchSettings(0.3, 0.5), progress=False).key
    coco = read(root)
    # P, R per image 0..4: (1, 1), (0.5, 1), (1, 0), (0, 1), (1, 1); boxes 2, 1, 1, 0, 1
    kept = kept_at(coco, key, 0.6, 0.5)
    assert (kept.images, kept.num_images, kept.boxes, kept.num_boxes) == (2, 5, 3, 5)
    assert kept.per_class == {'0': (1, 2), '1': (1, 1), '2': (0, 1), '5': (1, 1)}
    assert kept.lines()[0] == 'kept at min_precision=0.6, min_recall=0.5: 2/5 (40.0%) images, 3/5 (60.0%) boxes'
    assert '2 0/1 (0.0%)' in kept.lines()[1] and kept.warning() is None
    nothing = kept_at(coco, key, 1.0, 1.0)
    assert nothing.images == 2 and nothing.warning() is None
    # image 3 has no layout box: training drops it (filter_empty_gt) whatever its scores
    assert kept_at(coco, key, 0.0, 0.0).images == 4
    # a set where one image of eleven passes keeps 9%: warned
    coco['images'] += [dict(im, id=10 + i) for i, im in enumerate(coco['images'][2:4] * 3)]
    for im in coco['images'][5:]:
        im['pr_filter'] = {key: dict(precision=0.0, recall=0.0)}
    lone = kept_at(coco, key, 1.0, 1.0)
    assert (lone.images, lone.num_images) == (2, 11) and lone.warning() is None  # 18% of the images
    for im in coco['images'][1:]:
        im['pr_filter'] = {key: dict(precision=0.0, recall=0.0)}
    lone = kept_at(coco, key, 1.0, 1.0)
    assert (lone.images, lone.num_images) == (1, 11) and lone.fraction < MIN_KEPT_FRACTION
    assert '1/11 images and 2/5 boxes, under 10% of the set' in lone.warning()


def measured_kept(measured: dict, min_precision: float | None, min_recall: float | None) -> dict[str, float]:
    """The measured share of the 'correct' and the 'shifted' images that the keep thresholds pass (which
    must be a row of the measurement's ``kept`` table)."""
    rows = {(row['min_precision'], row['min_recall']): row for row in measured['kept']}
    assert (min_precision, min_recall) in rows, f'{(min_precision, min_recall)} was not measured'
    return rows[(min_precision, min_recall)]


def test_defaults_follow_the_measured_filter_auc():
    """benchmarks/filter_auc.py measured, with the default filter detector, which thresholds separate
    good images from wrong ones; the shipped defaults must be the best of them, keep nearly every good
    image and nearly no wrong one."""
    import runpy
    measured = json.loads((REPO / 'benchmarks' / 'filter_auc_lite0.json').read_text())
    best = max(measured['grid'], key=lambda cell: cell['auc_min_pr'])
    assert (measured['score_thr'], measured['iou_thr']) == (best['score_thr'], best['iou_thr'])
    assert (DEFAULT_SCORE_THR, DEFAULT_IOU_THR) == (best['score_thr'], best['iou_thr'])
    assert MatchSettings() == MatchSettings(best['score_thr'], best['iou_thr'])
    kept = measured_kept(measured, DEFAULT_MIN_PRECISION, DEFAULT_MIN_RECALL)
    assert kept['correct'] >= 0.9 and kept['shifted'] <= 0.05, kept
    assert kept['correct'] - kept['shifted'] == max(row['correct'] - row['shifted'] for row in measured['kept'])

    from mmgen_det.cli.pr_filter import parse_args
    args = parse_args(['set', '--detector-config', __file__, '--checkpoint', __file__])
    assert (args.score_thr, args.iou_thr, args.min_precision, args.min_recall) == (
        DEFAULT_SCORE_THR, DEFAULT_IOU_THR, DEFAULT_MIN_PRECISION, DEFAULT_MIN_RECALL)

    reference = runpy.run_path(str(REPO / 'configs' / 'experiments' / 'reference_fish4knowledge.py'))
    detector = reference['filter_detector']
    assert (detector['score_thr'], detector['iou_thr']) == (DEFAULT_SCORE_THR, DEFAULT_IOU_THR)
    for name, spec in reference['filters'].items():
        if spec and spec['type'] == 'pr':
            kept = measured_kept(measured, spec.get('min_precision'), spec.get('min_recall'))['correct']
            assert kept >= MIN_KEPT_FRACTION, f'filter {name} keeps {kept:.0%} of the measured good images'
