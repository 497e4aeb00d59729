"""Draw images with their boxes into one grid PNG: how users check a set (real or synthetic) by eye."""
from __future__ import annotations

import colorsys
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from ..utils.io import safe_join


def class_colors(names: Sequence[str]) -> dict[str, tuple[int, int, int]]:
    """Well-separated colours, stable for a given class list."""
    n = max(len(names), 1)
    return {name: tuple(int(255 * c) for c in colorsys.hsv_to_rgb(i / n, 0.9, 1.0))
            for i, name in enumerate(names)}


def draw_boxes(image: Image.Image, boxes: Sequence[Sequence[float]], labels: Sequence[str],
               colors: dict[str, tuple[int, int, int]], scale: float = 1.0) -> Image.Image:
    """Copy of ``image`` scaled by ``scale`` with xywh ``boxes`` outlined and labelled, drawn by mmdet's
    ``DetLocalVisualizer`` (as ``tools/test.py --show-dir`` draws predictions)."""
    from mmdet.visualization import DetLocalVisualizer

    image = image.convert('RGB')
    if scale != 1.0:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.BILINEAR)
    if not len(boxes):
        return image
    xyxy = np.array([[x, y, x + w, y + h] for x, y, w, h in boxes], dtype=np.float64) * scale
    # inside the canvas: the visualizer warns about every coordinate on or past its edge
    xyxy = np.clip(xyxy, 0, [image.width - 1, image.height - 1] * 2)
    box_colors = [colors.get(label, (255, 255, 255)) for label in labels]
    vis = DetLocalVisualizer.get_instance('mmgen_det_grid')
    vis.set_image(np.asarray(image))
    vis.draw_bboxes(xyxy, edge_colors=box_colors, line_widths=2, alpha=1.0)
    vis.draw_texts(list(labels), np.maximum(xyxy[:, :2] + [2.0, -12.0], 0), font_sizes=9, colors=box_colors,
                   bboxes=[dict(facecolor='black', alpha=0.6, pad=0.5, edgecolor='none')] * len(labels))
    return Image.fromarray(vis.get_image())


def coco_grid(coco: dict[str, Any], img_root: str | Path, image_ids: Sequence[int], cols: int = 4,
              tile: int = 320, caption_key: str | None = 'generation') -> Image.Image:
    """A grid of the given images with their annotations, each tile ``tile`` px wide."""
    cats = {c['id']: c['name'] for c in coco['categories']}
    colors = class_colors([c['name'] for c in coco['categories']])
    images = {im['id']: im for im in coco['images']}
    anns: dict[int, list] = {}
    for ann in coco['annotations']:
        anns.setdefault(ann['image_id'], []).append(ann)
    tiles = []
    for img_id in image_ids:
        info = images[img_id]
        with Image.open(safe_join(img_root, info['file_name'])) as im:
            im = ImageOps.exif_transpose(im)
            scale = tile / im.width
            boxes = [a['bbox'] for a in anns.get(img_id, [])]
            labels = [cats[a['category_id']] for a in anns.get(img_id, [])]
            drawn = draw_boxes(im, boxes, labels, colors, scale)
        caption = f"#{img_id}"
        record = info.get(caption_key) if caption_key else None
        if isinstance(record, dict) and record.get('prompt'):
            caption += f" {record['prompt']}"
        tiles.append((drawn, caption[:60]))
    rows = (len(tiles) + cols - 1) // cols
    tile_h = max((t.height for t, _ in tiles), default=tile) + 14
    grid = Image.new('RGB', (cols * tile, max(rows, 1) * tile_h), (30, 30, 30))
    draw = ImageDraw.Draw(grid)
    for k, (t, caption) in enumerate(tiles):
        x, y = (k % cols) * tile, (k // cols) * tile_h
        grid.paste(t, (x, y))
        draw.text((x + 2, y + t.height + 1), caption, fill=(230, 230, 230))
    return grid
