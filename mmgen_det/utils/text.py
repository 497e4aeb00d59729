"""Wording shared by messages."""
from __future__ import annotations

from typing import Any, Sequence


def first_few(items: Sequence[Any], shown: int = 5, sep: str = ', ') -> str:
    """``'a, b, c, d, e and 4 more'``: the first ``shown`` of ``items`` and how many are left out, so a
    message about thousands of files stays one line."""
    head = sep.join(map(str, items[:shown]))
    return head + (f' and {len(items) - shown} more' if len(items) > shown else '')
