"""The grid PNG: boxes drawn by mmdet's DetLocalVisualizer, in the class colour, at the tile's scale."""
from __future__ import annotations

import json

import numpy as np
from PIL import Image

from mmgen_det.visualization import class_colors, coco_grid, draw_boxes


def test_boxes_are_drawn_scaled_in_their_class_colour():
    colors = class_colors(['fish', 'crab'])
    image = Image.new('RGB', (100, 80), (0, 0, 0))
    drawn = np.asarray(draw_boxes(image, [[20, 40, 40, 20], [90, 70, 30, 30]], ['fish', 'crab'], colors, scale=2.0))
    assert drawn.shape == (160, 200, 3)
    assert tuple(drawn[100, 40]) == colors['fish']  # left edge of the first box, x 20 -> 40, y 40..60 -> 80..120
    assert tuple(drawn[150, 180]) == tuple(drawn[159, 190]) == colors['crab']  # its bottom is clipped to the image
    assert draw_boxes(image, [], [], colors).size == (100, 80)


def test_grid_has_one_tile_per_image(scored_set):
    coco = json.loads((scored_set / 'annotations.json').read_text())
    grid = coco_grid(coco, scored_set, [0, 1, 2, 3, 4], cols=2, tile=160)
    assert grid.width == 2 * 160 and grid.height == 3 * (round(160 * 200 / 360) + 14)
