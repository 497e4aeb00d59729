"""Train a detector: mmdet's stock ``tools/train.py`` with mmgen_det registered.

Same arguments as mmdet's script (``python tools/train.py CONFIG [--work-dir D] [--resume [CKPT]]
[--cfg-options k=v ...] [--launcher pytorch]``). Configs load mmgen_det through ``custom_imports``, so
mmdet's own ``mmdet/.mim/tools/train.py`` runs them too.
"""
from __future__ import annotations

import sys

from mmgen_det.utils.command_line import setup_console
from mmgen_det.utils.mmdet_tools import run_mmdet_tool


def main(argv: list[str] | None = None) -> None:
    setup_console()  # the parser is mmdet's, not ours
    run_mmdet_tool('train.py', sys.argv[1:] if argv is None else argv)


if __name__ == '__main__':
    main()
