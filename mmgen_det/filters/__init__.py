"""Filters that score generated images against their layouts (``matching`` needs only numpy).

``matching``          precision/recall of detections vs layout boxes (pure maths)
``pr_filter``         ``FilterDetector`` (batched mmdet inference) and the ``PRFilter`` transform
``scoring``           score a whole synthetic set, resumable; scores stored in annotations.json
``feature_distance``  per-image distance of backbone features to the real set's statistics
``plots``             precision/recall scatter and histograms
"""
from .matching import Match, PRScore, box_iou, match_detections, precision_recall, score_image

__all__ = ['Match', 'PRScore', 'box_iou', 'match_detections', 'precision_recall', 'score_image']
