"""Real data: convert YOLO / Pascal VOC / COCO to checked COCO, and take seeded nested subsets."""
from .formats import (DatasetFormatError, ConvertedSplit, convert_dataset, detect_format, load_coco,
                      read_dataset, write_dataset)
from .subsets import make_subset, subset_order

__all__ = ['DatasetFormatError', 'ConvertedSplit', 'convert_dataset', 'detect_format', 'load_coco',
           'read_dataset', 'write_dataset', 'make_subset', 'subset_order']
