"""The layout of one future image: where each object goes and what it is.

A layout is what every generator consumes and what the synthetic annotations are made from, so it
holds boxes in one convention only: normalised ``[xmin, ymin, xmax, ymax]`` in [0, 1] of the image
that will be generated (GLIGEN's convention). Pixel boxes are derived with :meth:`Layout.pixel_boxes`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

GLIGEN_MAX_BOXES = 30


@dataclass(frozen=True)
class Layout:
    """Boxes and class names for image ``index`` of a synthetic set.

    Attributes:
        index: position of the image in the synthetic set (its seed derives from it).
        width, height: size in pixels of the image to generate.
        boxes: ``(K, 4)`` float array, normalised ``xyxy`` in [0, 1].
        labels: ``K`` category names, one per box, as in the real annotation file.
        source: where the layout came from, e.g. ``{'strategy': 'jitter', 'image_id': 12}``.
    """
    index: int
    width: int
    height: int
    boxes: np.ndarray
    labels: tuple[str, ...]
    source: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        object.__setattr__(self, 'boxes', boxes)
        object.__setattr__(self, 'labels', tuple(str(x) for x in self.labels))
        if len(self.labels) != len(boxes):
            raise ValueError(f'layout {self.index}: {len(boxes)} boxes but {len(self.labels)} labels')
        if len(boxes) and (boxes.min() < 0 or boxes.max() > 1):
            raise ValueError(f'layout {self.index}: boxes must be normalised to [0, 1], got {boxes.tolist()}')
        if len(boxes) and np.any(boxes[:, 2:] <= boxes[:, :2]):
            raise ValueError(f'layout {self.index}: boxes need xmax > xmin and ymax > ymin, got {boxes.tolist()}')
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f'layout {self.index}: image size must be positive, got {self.width}x{self.height}')

    def __len__(self) -> int:
        return len(self.labels)

    def pixel_boxes(self) -> np.ndarray:
        """Boxes as pixel ``xyxy`` in the generated image."""
        return self.boxes * np.array([self.width, self.height, self.width, self.height], dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return dict(index=self.index, width=self.width, height=self.height,
                    boxes=[[round(float(v), 6) for v in b] for b in self.boxes],
                    labels=list(self.labels), source=self.source)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> 'Layout':
        return cls(index=int(d['index']), width=int(d['width']), height=int(d['height']),
                   boxes=np.asarray(d['boxes'], dtype=np.float64).reshape(-1, 4),
                   labels=tuple(d['labels']), source=dict(d.get('source', {})))
