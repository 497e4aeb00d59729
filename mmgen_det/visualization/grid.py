"""Draw images with their boxes into one grid PNG: how users check a set (real or synthetic) by eye."""
from __future__ import annotations

import colorsys
from pathlib import Path
from typing import Any, Sequence

from PIL import Image, ImageDraw, ImageOps

from ..utils.io import safe_join


def class_colors(names: Sequence[str]) -> dict[str, tuple[int, int, int]]:
    """Well-separated colours, stable for a given class list."""
    n = max(len(names), 1)
    return {name: tuple(int(255 * c) for c in colorsys.hsv_to_rgb(i / n, 0.9, 1.0))
            for i, name in enumerate(names)}


def draw_boxes(image: Image.Image, boxes: Sequence[Sequence[float]], labels: Sequence[str],
               colors: dict[str, tuple[int, int, int]], scale: float = 1.0) -> Image.Image:
    """Copy of ``image`` scaled by ``scale`` with xywh ``boxes`` outlined and labelled."""
    image = image.convert('RGB')
    if scale != 1.0:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.BILINEAR)
    draw = ImageDraw.Draw(image)
    for (x, y, w, h), label in zip(boxes, labels):
        color = colors.get(label, (255, 255, 255))
        x0, y0, x1, y1 = x * scale, y * scale, (x + w) * scale, (y + h) * scale
        draw.rectangle([x0, y0, x1, y1], outline=color, width=2)
        draw.text((x0 + 2, max(y0 - 11, 0)), label, fill=color)
    return image


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
