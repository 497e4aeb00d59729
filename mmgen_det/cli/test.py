"""Evaluate a checkpoint: mmdet's stock ``tools/test.py`` with mmgen_det registered.

Same arguments as mmdet's script (``python tools/test.py CONFIG CHECKPOINT [--work-dir D] [--out F]
[--cfg-options k=v ...]``); prints the COCO metrics of the config's test split.
"""
from __future__ import annotations

import sys

from mmgen_det.utils.command_line import setup_console
from mmgen_det.utils.mmdet_tools import run_mmdet_tool


def main(argv: list[str] | None = None) -> None:
    setup_console()  # the parser is mmdet's, not ours
    run_mmdet_tool('test.py', sys.argv[1:] if argv is None else argv)


if __name__ == '__main__':
    main()
