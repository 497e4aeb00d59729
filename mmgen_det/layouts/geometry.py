"""Box maths of the frame-to-layout mapping: windows, crops, flips, scales on normalised ``xyxy``
arrays of shape ``(K, 4)``, no randomness (the sampler draws the parameters and passes them in).
"""
from __future__ import annotations

import numpy as np


def window_fraction(real_w: int, real_h: int, out_w: int, out_h: int, aspect: str,
                    zoom: float = 1.0) -> np.ndarray:
    """``(width, height)`` of the window cut from a real image, as fractions of that image.

    ``'crop'`` gives the largest window with the output's aspect ratio; ``'stretch'`` the whole image.
    ``zoom`` shrinks either by ``1 / zoom``.
    """
    if aspect == 'stretch':
        return np.array([1.0, 1.0]) / zoom
    real_ratio, out_ratio = real_w / real_h, out_w / out_h
    if out_ratio < real_ratio:  # output is narrower: keep the full height
        return np.array([out_ratio / real_ratio, 1.0]) / zoom
    return np.array([1.0, real_ratio / out_ratio]) / zoom


def place_window(size: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """The ``xyxy`` window of ``size`` centred as near ``centre`` as it can be inside ``[0, 1]``."""
    size = np.minimum(np.asarray(size, dtype=np.float64), 1.0)
    start = np.maximum(np.minimum(np.asarray(centre, dtype=np.float64) - size / 2, 1.0 - size), 0.0)
    return np.concatenate([start, np.minimum(start + size, 1.0)])


def crop_boxes(boxes: np.ndarray, window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boxes in the coordinates of ``window``, clipped to it, and the fraction of each still visible."""
    corners = np.asarray(boxes, dtype=np.float64).reshape(-1, 2, 2)  # (K, [min, max], [x, y])
    moved = (corners - window[:2]) / (window[2:] - window[:2])
    clipped = np.minimum(np.maximum(moved, 0.0), 1.0)
    sides, kept_sides = moved[:, 1] - moved[:, 0], np.maximum(clipped[:, 1] - clipped[:, 0], 0.0)
    visible = kept_sides[:, 0] * kept_sides[:, 1] / (sides[:, 0] * sides[:, 1])
    return clipped.reshape(-1, 4), visible


def flip_boxes(boxes: np.ndarray) -> np.ndarray:
    """Mirror boxes left-right: ``x -> 1 - x``."""
    return np.stack([1 - boxes[:, 2], boxes[:, 1], 1 - boxes[:, 0], boxes[:, 3]], axis=1)


def scale_shift_boxes(boxes: np.ndarray, scale: float, shift: np.ndarray) -> np.ndarray:
    """Scale the whole layout about the image centre, then shift it (may leave ``[0, 1]``)."""
    return ((boxes.reshape(-1, 2, 2) - 0.5) * scale + 0.5 + shift).reshape(-1, 4)


def largest_boxes(boxes: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of the ``k`` largest boxes by area (ties: earliest first), order untouched."""
    order = np.argsort(-np.prod(boxes[:, 2:] - boxes[:, :2], axis=1), kind='stable')
    keep = np.zeros(len(boxes), dtype=bool)
    keep[order[:k]] = True
    return keep
