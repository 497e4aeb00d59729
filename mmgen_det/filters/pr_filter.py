"""The filter detector and the ``PRFilter`` transform: how well an image's objects sit where its layout says.

In: a detector (mmdet config + checkpoint), matching settings (``score_thr``, ``iou_thr``,
``class_aware``), and images with their layout boxes. Out: per image a *score record* — the exact
dict stored under ``annotations.json -> images[i] -> "pr_filter" -> KEY``::

    {"precision": 0.75, "recall": 1.0, "num_detections": 4, "num_matched": 3, "num_boxes": 3,
     "matches": [[layout_box_index, detection_score, iou], ...],
     "detections": {"bboxes": [[x1, y1, x2, y2], ...], "classes": ["fish", ...], "scores": [0.912, ...],
                    "layout_box": [layout_box_index or -1, ...]},
     "detector": {"config": ..., "config_sha256": ..., "checkpoint": ..., "sha256": ...},
     "thresholds": {"score_thr": 0.05, "iou_thr": 0.3, "class_aware": false, "nms": "class-agnostic"}}

``detections`` are the detections the matching used (score >= ``score_thr``, highest first), so that
the gallery can draw the false positives too: ``xyxy`` boxes in image pixels, the detector's class
names, and per detection the layout box it matched (-1: off every layout box). They are rounded
(``BOX_DECIMALS``, ``SCORE_DECIMALS``) to keep annotations.json small; the exact scores of the matched
ones stay in ``matches``. Records written before detections were stored, and those of images that
could not be decoded, have none.

``KEY`` (:func:`pr_key`) is derived from the checkpoint's sha256 and the thresholds, so scores of
several detectors, or of one detector at several thresholds, coexist in one file.

The detector's final NMS follows the matching mode (``MatchSettings.class_aware``, passed to every
:meth:`FilterDetector.predict` call, so one loaded detector serves both): across classes when matching is
class-agnostic, so a fish predicted as two species is one detection rather than one match plus one
false positive; per class when matching is class-aware.

``PRFilter`` only *scores*: it never drops a sample. Inside a training pipeline a dropped sample is
replaced by mmengine with a random other one, which makes the training set depend on the data-loading
order; deterministic keeping happens at load time in ``SyntheticDetDataset(filter_cfg=...)``.
"""
from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from mmcv.transforms import BaseTransform, Compose

from mmdet.registry import TRANSFORMS

from ..generation.set_format import PR_FILTER_KEY
from ..utils.hashing import file_sha256
from .matching import DEFAULT_IOU_THR, DEFAULT_SCORE_THR, PRScore, check_unit_interval, score_image

BOX_DECIMALS = 1  # a tenth of a pixel: finer than any drawn box shows
SCORE_DECIMALS = 3


@dataclass(frozen=True)
class MatchSettings:
    """The thresholds a score depends on (validated: each in [0, 1])."""
    score_thr: float = DEFAULT_SCORE_THR
    iou_thr: float = DEFAULT_IOU_THR
    class_aware: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, 'score_thr', check_unit_interval('score_thr', self.score_thr))
        object.__setattr__(self, 'iou_thr', check_unit_interval('iou_thr', self.iou_thr))
        object.__setattr__(self, 'class_aware', bool(self.class_aware))

    @property
    def nms(self) -> str:
        """The detector's NMS mode these settings need (recorded: scores of another mode are not reused)."""
        return 'per-class' if self.class_aware else 'class-agnostic'

    def to_dict(self) -> dict[str, Any]:
        return dict(asdict(self), nms=self.nms)


@dataclass(frozen=True)
class Detections:
    """One image's predictions in its own pixel frame (``xyxy``), as numpy."""
    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray


def pr_key(checkpoint_sha256: str, settings: MatchSettings) -> str:
    """Short, stable, file-name-safe key, e.g. ``'3f2a9c1b0d4e_s0.05_i0.3_agnostic'``."""
    mode = 'classaware' if settings.class_aware else 'agnostic'
    return f'{checkpoint_sha256[:12]}_s{settings.score_thr:g}_i{settings.iou_thr:g}_{mode}'


def detections_record(dets: Detections, score: PRScore, classes: Sequence[str]) -> dict[str, list]:
    """The detections ``score`` was computed from, rounded, in its matching order (module docstring)."""
    kept = np.asarray(score.kept, dtype=np.intp)
    box_of = {m.det: m.box for m in score.matches}
    return dict(bboxes=np.round(dets.boxes.reshape(-1, 4)[kept], BOX_DECIMALS).tolist(),
                classes=[classes[int(label)] for label in dets.labels[kept]],
                scores=np.round(dets.scores[kept], SCORE_DECIMALS).tolist(),
                layout_box=[box_of.get(d, -1) for d in range(len(kept))])


def pr_record(score: PRScore, detector: dict[str, Any], settings: MatchSettings,
              detections: dict[str, list] | None = None) -> dict[str, Any]:
    """The stored form of one image's score (see the module docstring)."""
    record = dict(precision=score.precision, recall=score.recall, num_detections=score.num_detections,
                  num_matched=score.num_matched, num_boxes=score.num_boxes,
                  matches=[[m.box, m.score, m.iou] for m in score.matches],
                  detector=dict(detector), thresholds=settings.to_dict())
    if detections is not None:
        record['detections'] = detections
    return record


def check_detector_files(config: str | Path, checkpoint: str | Path) -> None:
    """Fail before any model is built when a file is missing, and say which one."""
    if not Path(config).is_file():
        raise FileNotFoundError(f'filter detector config {config} does not exist; pass an mmdet config '
                                '(e.g. configs/filter/faster-rcnn_r18_fpn_filter_fish4knowledge-mini.py)')
    if not Path(checkpoint).is_file():
        raise FileNotFoundError(f'filter detector checkpoint {checkpoint} does not exist; train the filter '
                                'detector first (python tools/train.py CONFIG) and pass its .pth')


def final_nms_cfg(model, config: str | Path) -> dict:
    """The NMS settings of the head that outputs the detections, as that head reads them when predicting.

    ``test_cfg.rcnn.nms`` of a two-stage detector (the filter configs' Faster R-CNN), ``test_cfg.nms`` of
    a one-stage one; mmdet's ``batched_nms`` honours ``class_agnostic`` in it. Never the RPN's: its NMS
    runs across pyramid levels.
    """
    head = getattr(model, 'roi_head', None) or getattr(model, 'bbox_head', None)
    test_cfg = getattr(head, 'test_cfg', None)
    if not test_cfg or not test_cfg.get('nms'):
        raise ValueError(f'{config}: the filter detector has no test_cfg NMS (rcnn.nms or nms); its NMS must '
                         'follow the matching mode (class-agnostic unless class_aware), so use an NMS-based '
                         'mmdet detector such as configs/filter/faster-rcnn_*')
    return test_cfg['nms']


class FilterDetector:
    """An mmdet detector that predicts on batches of in-memory images (BGR ``uint8``, as loaded).

    Batched on purpose: ``inference_detector`` runs one image per forward pass. Images of one batch
    are padded to a common size by the model's data preprocessor; a synthetic set has one image size,
    so batching does not change the predictions (tested against batch size 1).

    Args:
        config: mmdet config file of the filter detector.
        checkpoint: its trained weights (``.pth``); its sha256 identifies the scores.
        device: 'cpu' or 'cuda:0', ...
    """

    def __init__(self, config: str | Path, checkpoint: str | Path, device: str = 'cpu') -> None:
        from mmdet.apis import init_detector
        from mmdet.utils import get_test_pipeline_cfg

        check_detector_files(config, checkpoint)
        self.model = init_detector(str(config), str(checkpoint), device=device, palette='random')
        self.classes = tuple(self.model.dataset_meta.get('classes', ()))
        self.nms_cfg = final_nms_cfg(self.model, config)
        self.follow_matching(class_aware=False)  # also for callers of self.model itself
        pipeline_cfg = self.ndarray_pipeline_cfg(get_test_pipeline_cfg(self.model.cfg), config)
        self.pipeline = Compose(pipeline_cfg)
        model_and_pipeline = json.dumps(dict(model=self.model.cfg.model.to_dict(), pipeline=pipeline_cfg),
                                        sort_keys=True, default=str)
        self.identity = dict(config=str(config),
                             config_sha256=hashlib.sha256(model_and_pipeline.encode()).hexdigest(),
                             checkpoint=str(checkpoint), sha256=file_sha256(checkpoint))

    @staticmethod
    def ndarray_pipeline_cfg(pipeline: Sequence[dict], config: str | Path) -> list[dict]:
        """The test pipeline reading ``results['img']`` instead of a file, without annotation loading."""
        steps = [copy.deepcopy(dict(step)) for step in pipeline]
        if not steps or 'LoadImage' not in str(steps[0].get('type')):
            raise ValueError(f'{config}: the test pipeline must start with an image-loading transform '
                             f"(LoadImageFromFile), found {steps[0].get('type') if steps else 'nothing'}")
        steps[0] = dict(type='mmdet.LoadImageFromNDArray')
        return [s for s in steps if 'LoadAnnotations' not in str(s.get('type'))]

    def follow_matching(self, class_aware: bool) -> None:
        """NMS across classes for class-agnostic matching, per class for class-aware matching."""
        self.nms_cfg['class_agnostic'] = not class_aware

    def predict(self, images: Sequence[np.ndarray], class_aware: bool = False) -> list[Detections]:
        """One forward pass over the whole list, NMS per class only for ``class_aware`` matching."""
        import torch
        from mmengine.dataset import pseudo_collate

        if not images:
            return []
        self.follow_matching(class_aware)
        batch = pseudo_collate([self.pipeline(dict(img=img, img_id=i)) for i, img in enumerate(images)])
        with torch.no_grad():
            samples = self.model.test_step(batch)
        out = []
        for sample in samples:
            pred = sample.pred_instances
            out.append(Detections(pred.bboxes.cpu().numpy().astype(np.float64),
                                  pred.scores.cpu().numpy().astype(np.float64),
                                  pred.labels.cpu().numpy().astype(np.int64)))
        return out

    def label_map(self, names: Sequence[str], where: str) -> dict[str, int]:
        """Class name -> the detector's label index, for class-aware matching.

        The detector must know exactly the layout's classes: a COCO detector knows no "fish", and a
        detector trained on other classes would match nothing or the wrong things.
        """
        if sorted(names) != sorted(self.classes):
            raise ValueError(
                f'{where}: class_aware matching needs a filter detector trained on the same classes; '
                f"{self.identity['checkpoint']} has {len(self.classes)} classes {list(self.classes)[:10]}, "
                f'the layouts have {len(names)} {list(names)[:10]}. Use class-agnostic matching '
                '(drop --class-aware / class_aware=True) or train the filter detector on these classes')
        return {name: i for i, name in enumerate(self.classes)}


def score_detections(dets: Detections, boxes: np.ndarray, labels: np.ndarray | None,
                     settings: MatchSettings) -> PRScore:
    """Match one image's detections to its layout boxes (``labels`` in the detector's label space)."""
    return score_image(dets.boxes, dets.scores, boxes, settings.score_thr, settings.iou_thr,
                       det_labels=dets.labels, gt_labels=labels, class_aware=settings.class_aware)


_DETECTORS: dict[tuple[str, str, str], FilterDetector] = {}


def get_filter_detector(config: str | Path, checkpoint: str | Path, device: str = 'cpu') -> FilterDetector:
    """One loaded detector per (config, checkpoint, device) per process, shared by transforms."""
    key = (str(Path(config).resolve()), str(Path(checkpoint).resolve()), device)
    if key not in _DETECTORS:
        _DETECTORS[key] = FilterDetector(config, checkpoint, device)
    return _DETECTORS[key]


@TRANSFORMS.register_module()
class PRFilter(BaseTransform):
    """Score the sample against its own boxes; add the score record under ``results['pr_filter'][KEY]``.

    Place it after ``LoadImageFromFile`` and ``LoadAnnotations`` (before ``PackDetInputs``); anywhere
    in between is fine, because the detector's predictions come back in the frame of the image it is
    given. The detector is loaded on first use, once per worker process.

    Required keys: ``img``, ``gt_bboxes`` (``gt_bboxes_labels`` when ``class_aware``).
    Added keys: ``pr_filter`` (``{KEY: record}``, merged with scores already there), ``pr_key``.

    Args:
        detector_config, checkpoint: the filter detector.
        score_thr, iou_thr, class_aware: matching settings (see ``mmgen_det.filters.matching``).
        classes: the dataset's class names, in label order; needed for ``class_aware`` so the
            dataset's labels can be translated to the detector's.
        device: where the detector runs.
        min_precision, min_recall: refused with an explanation: a transform cannot drop samples
            deterministically; set them in ``SyntheticDetDataset``'s ``filter_cfg`` instead.
    """

    def __init__(self, detector_config: str, checkpoint: str, score_thr: float = DEFAULT_SCORE_THR,
                 iou_thr: float = DEFAULT_IOU_THR, class_aware: bool = False,
                 classes: Sequence[str] | None = None, device: str = 'cpu',
                 min_precision: float | None = None, min_recall: float | None = None) -> None:
        if min_precision is not None or min_recall is not None:
            raise ValueError(
                'PRFilter does not drop samples: inside a data pipeline mmengine replaces a dropped '
                'sample with a random other one, so the training set would depend on loading order. '
                'Score the set (python tools/pr_filter.py SYNTH_DIR ...) and keep images with '
                'SyntheticDetDataset(filter_cfg=dict(min_precision=..., min_recall=...)) instead.')
        check_detector_files(detector_config, checkpoint)
        self.settings = MatchSettings(score_thr, iou_thr, class_aware)
        if class_aware and not classes:
            raise ValueError('PRFilter(class_aware=True) needs classes=<the dataset classes, in label '
                             "order>, e.g. classes={{_base_.classes}} or metainfo['classes']")
        self.detector_config, self.checkpoint, self.device = detector_config, checkpoint, device
        self.classes = tuple(classes) if classes else None

    @property
    def detector(self) -> FilterDetector:
        return get_filter_detector(self.detector_config, self.checkpoint, self.device)

    def _detector_labels(self, labels: np.ndarray) -> np.ndarray | None:
        if not self.settings.class_aware:
            return None
        name_to_label = self.detector.label_map(self.classes, 'PRFilter')
        return np.array([name_to_label[self.classes[int(i)]] for i in labels], dtype=np.int64)

    def transform(self, results: dict) -> dict:
        boxes = results['gt_bboxes']
        boxes = boxes.numpy() if hasattr(boxes, 'numpy') else np.asarray(boxes)
        labels = self._detector_labels(np.asarray(results.get('gt_bboxes_labels', [])).reshape(-1))
        detector = self.detector
        dets = detector.predict([results['img']], self.settings.class_aware)[0]
        score = score_detections(dets, boxes.reshape(-1, 4), labels, self.settings)
        key = pr_key(detector.identity['sha256'], self.settings)
        record = pr_record(score, detector.identity, self.settings, detections_record(dets, score, detector.classes))
        results[PR_FILTER_KEY] = {**results.get(PR_FILTER_KEY, {}), key: record}
        results['pr_key'] = key
        return results

    def __repr__(self) -> str:
        s = self.settings
        return (f'{type(self).__name__}(checkpoint={self.checkpoint!r}, score_thr={s.score_thr}, '
                f'iou_thr={s.iou_thr}, class_aware={s.class_aware})')
