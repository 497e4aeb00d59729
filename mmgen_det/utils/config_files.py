"""Python config files written by the package, where strings from a dataset (class names) stay data.

mmengine writes a config's values with ``repr``: a valid literal whatever the string holds. But
``Config.fromfile`` rewrites a file's text before it executes it: ``{{ fileDirname }}``,
``{{$VAR:default}}`` and ``{{_base_.key}}`` are replaced wherever they appear, string literals
included, so a class name holding one would come back as a path, an environment variable or a
placeholder (and ``re.sub`` would expand the backslash escapes of the default into the code).
:func:`inert_literals` spells every ``{`` of such a literal ``\\x7b``: the same string to Python, no
template to mmengine. Dict keys are not escaped by mmengine's writer at all: a config written here
holds dataset strings as values only (e.g. GLIGEN phrases as ``[name, phrase]`` pairs).
"""
from __future__ import annotations

import ast
import io
import tokenize

from .io import PathLike, atomic_write

#: what mmengine's text substitutions start with
TEMPLATE_OPEN = '{{'


def inert_literals(source: str) -> str:
    """``source`` with every plain string literal holding ``{{`` rewritten so that it holds none,
    with the same value."""
    line_starts = [0]
    for line in source.splitlines(keepends=True):
        line_starts.append(line_starts[-1] + len(line))
    pieces, done = [], 0
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.STRING or TEMPLATE_OPEN not in token.string:
            continue
        # repr never writes a '{' as part of an escape, so each one is a literal character
        literal = repr(ast.literal_eval(token.string)).replace('{', '\\x7b')
        start = line_starts[token.start[0] - 1] + token.start[1]
        pieces += [source[done:start], literal]
        done = line_starts[token.end[0] - 1] + token.end[1]
    return ''.join(pieces) + source[done:]


def dump_config(cfg, path: PathLike) -> None:
    """Write an mmengine ``Config`` as a ``.py`` file that ``Config.fromfile`` reads back unchanged
    (atomically: a killed process leaves the old file or the new one)."""
    text = inert_literals(cfg.pretty_text)
    with atomic_write(path, 'w') as f:
        f.write(text)
