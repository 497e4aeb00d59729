"""Locate and run mmdet's own ``tools/`` scripts, so this package never forks the training loop."""
from __future__ import annotations

import runpy
import sys
from pathlib import Path


def mmdet_tool_path(name: str) -> Path:
    """Path of ``mmdet/.mim/tools/<name>`` inside the installed mmdet wheel (or a source checkout)."""
    import mmdet
    root = Path(mmdet.__file__).parent
    for candidate in (root / '.mim' / 'tools' / name, root.parent / 'tools' / name):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"mmdet's {name} was not found under {root}/.mim/tools or {root.parent}/tools; "
                            'reinstall mmdet==3.3.0 from its wheel')


def run_mmdet_tool(name: str, argv: list[str]) -> None:
    """Run mmdet's script as ``__main__`` with ``argv``, after ``import mmgen_det`` registered our modules."""
    import mmgen_det  # noqa: F401  registers datasets, transforms, hooks and the checkpoint allow-list
    path = mmdet_tool_path(name)
    sys.argv = [str(path), *argv]
    runpy.run_path(str(path), run_name='__main__')
