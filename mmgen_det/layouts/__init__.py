"""Layouts: boxes + classes for each future image, derived from a real COCO annotation file."""
from .layout import GLIGEN_MAX_BOXES, Layout
from .real import RealImage, RealSource
from .sampler import LayoutSampler, LayoutSettings, build_layout_sampler
from .stats import LATENT_CELL, format_stats, layout_stats, summarize_boxes

__all__ = ['GLIGEN_MAX_BOXES', 'Layout', 'LayoutSampler', 'LayoutSettings', 'RealImage', 'RealSource',
           'build_layout_sampler', 'LATENT_CELL', 'format_stats', 'layout_stats', 'summarize_boxes']
