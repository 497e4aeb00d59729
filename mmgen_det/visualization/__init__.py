"""Looking at a set (real or synthetic) before training on it.

``grid``          images with their boxes drawn into one PNG (``tools/browse_synthetic.py --out``)
``gallery``       a static HTML gallery with scores and a threshold control (``--html``)
``gallery_data``  what the gallery shows, from the COCO dicts (pure)
``thumbnails``    thumbnails and crops, made once, in parallel, resumable
"""
from .grid import class_colors, coco_grid, draw_boxes

__all__ = ['class_colors', 'coco_grid', 'draw_boxes']
