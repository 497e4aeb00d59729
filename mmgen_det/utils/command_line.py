"""What every command shares: its argument parser and its console.

The parser (:class:`ArgumentParser`) answers a mistyped choice with the closest valid one ("did you
mean 'copy-paste'?"), and the option types below say what they expect instead of argparse's
``invalid <lambda> value``. Parsing also readies the console (:func:`setup_console`): our warnings print
as one ``WARNING: <message>`` line, and an unfinished progress line is ended before anything else is
printed. Every command parses its arguments first, so that is the one place all their output passes;
``train`` and ``test``, whose parser is mmdet's, call :func:`setup_console` themselves.

This module imports nothing heavy: ``--help`` and a mistyped option must answer at once.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Sequence, TextIO

from .progress import EndsProgressLine

#: warnings raised from files under this folder are ours: shown without their source line
PACKAGE_DIR = Path(__file__).resolve().parents[1]


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` that suggests the closest choice and sets up the console."""

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is None or value in action.choices:
            return
        close = get_close_matches(str(value), [str(c) for c in action.choices], n=1)
        hint = f'did you mean {close[0]!r}? ' if close else ''
        raise argparse.ArgumentError(action, f"invalid choice: {value!r} ({hint}choose from "
                                             f"{', '.join(map(repr, action.choices))})")

    def parse_known_args(self, args: Sequence[str] | None = None,
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        setup_console()
        return super().parse_known_args(args, namespace)


class CfgOptions(argparse.Action):
    """``--cfg-options k=v ...``: mmengine's ``DictAction``, imported only when the option is given, so that
    ``--help`` loads no mmengine (whose first import applies the package's patches, torch included)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        from mmengine.config import DictAction
        DictAction(self.option_strings, self.dest)(parser, namespace, values, option_string)


def setup_console() -> None:
    """Show our warnings as one line, and end a progress line before any other output (idempotent)."""
    warnings.showwarning = _show_warning
    wrapped: dict[int, EndsProgressLine] = {}
    for name in ('stdout', 'stderr', '__stdout__', '__stderr__'):  # progress bars of trainings use __stderr__
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, EndsProgressLine):
            setattr(sys, name, wrapped.setdefault(id(stream), EndsProgressLine(stream)))


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: TextIO | None = None, line: str | None = None) -> None:
    """``WARNING: <message>`` for a warning of ours: where in our code it was raised tells a user
    nothing. Other packages' warnings keep Python's format, whose source line helps report them."""
    ours = Path(filename).resolve().is_relative_to(PACKAGE_DIR)
    text = f'WARNING: {message}\n' if ours else warnings.formatwarning(message, category, filename, lineno, line)
    stream = file or sys.stderr
    stream.write(text)
    stream.flush()


def _positive(text: str) -> int | None:
    """``text`` as a whole number >= 1, else None."""
    return int(text) if text.strip().isdigit() and int(text) >= 1 else None


def positive_int(text: str) -> int:
    """A count or size: a whole number >= 1."""
    value = _positive(text)
    if value is None:
        raise argparse.ArgumentTypeError(f'invalid value: {text!r} (a whole number, 1 or more)')
    return value


def num_real(text: str) -> int | str:
    """``--num-real``: how many real training images a run uses, or ``'all'``."""
    value = text if text == 'all' else _positive(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"invalid number of real images: {text!r} (a positive whole number "
                                         "or 'all')")
    return value


def class_names(text: str) -> list[str]:
    """``--classes``: comma-separated class names in label order, e.g. ``'rainbow trout,pike'``."""
    names = [name.strip() for name in text.split(',')]
    if not all(names):
        raise argparse.ArgumentTypeError(f"invalid class names: {text!r} (comma-separated names in label "
                                         "order, none empty, e.g. 'rainbow trout,pike')")
    return names
