"""Small helpers shared by every stage; importable without mmcv/mmdet."""
from .io import atomic_write, atomic_write_json, read_json, safe_join
from .progress import ProgressBar

__all__ = ['atomic_write', 'atomic_write_json', 'read_json', 'safe_join', 'ProgressBar']
