"""Every measured figure the documentation quotes comes from a committed measurement file, and says what
that file says.

**The tie.** An HTML comment right after the figure, which GitHub does not show::

    a fresh `make install` on 2 cores took 7 min 41 s<!-- figure: benchmarks/install_time.json:cores,
    benchmarks/install_time.json:seconds -->

A marker lists SOURCEs separated by commas and ties the last that many numbers written before it (in
the same paragraph, after the previous marker), in order: ``0.157 [0.114, 0.249]<!-- figure: A, B, C -->``
ties three. Only punctuation (``]``, ``)``, ``*``) may stand between the last figure and its marker. A
SOURCE is, with PATH relative to the repository root:

- ``PATH:KEY`` for a JSON file, KEY a dotted path (``best_cell.auc.min_pr``; a list item by its index);
- ``PATH?COLUMN=VALUE&COLUMN=VALUE:COLUMN`` for a CSV file: the one row holding those values;
- several of those joined by `` + ``: their sum.

A duration in the text (``461 s``, ``7 min 41 s``, ``about 27 minutes``, ``2 h``) is compared in seconds,
which is what the files hold; any other number as written. The figure must be the file's value rounded to
the precision it is written with (``0.157``: within 0.0005; ``27 minutes``: within 30 s).

**Checked.** (1) Every marker in README.md, CHANGELOG.md and docs/*.md: its file exists, its key holds a
number, and the figure before it matches. (2) No measured figure is left untied: in README.md and
docs/*.md every duration (a number with ms, s, min, minutes, h or hours) and every number with three
decimals (how mAP, AP and their intervals are written) must carry a marker; a duration in a code block
fails too, since a comment there cannot hold a marker (quote it in prose, or drop it). A figure without
its source fails: nothing is skipped. Not scanned for untied figures, each for the reason in
``NOT_SCANNED``: CHANGELOG.md and docs/benchmarks.md (markers
there are still checked).
"""
from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / 'README.md', REPO / 'CHANGELOG.md', *sorted((REPO / 'docs').glob('*.md'))]
DOC_IDS = [str(p.relative_to(REPO)) for p in DOCS]

#: page -> None (the whole page) or the heading of the one section left out of the untied-figure scan
NOT_SCANNED = {
    'CHANGELOG.md': (None, 'a record of what was measured when each change was made, not a current claim'),
    'docs/benchmarks.md': (None, 'written from the benchmark outputs by whoever runs `make bench` / '
                                 '`make bench-accuracy`; to be tied by markers there'),
}
INSTALL_TIME = 'benchmarks/install_time.json'

NUMBER = r'[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?'
UNIT = r'(?:minutes?|mins?|ms|seconds?|sec|s|hours?|h)'
SECONDS = {'ms': 0.001, 's': 1, 'sec': 1, 'second': 1, 'seconds': 1, 'min': 60, 'mins': 60, 'minute': 60,
           'minutes': 60, 'h': 3600, 'hour': 3600, 'hours': 3600}
_END = r'(?!\d|\.\d)'  # not inside a longer number or a version (2.13.0)
FIGURE_RE = re.compile(
    rf'(?<![\w.])(?P<num>{NUMBER}){_END}'
    rf'(?:[ \t]*\n?[ \t]*(?P<unit>{UNIT})(?![\w-])'
    rf'(?:[ \t]*\n?[ \t]*(?P<num2>\d+(?:\.\d+)?){_END}[ \t]*\n?[ \t]*(?P<unit2>{UNIT})(?![\w-]))?)?')
SINGLE_RE = re.compile(rf'(?<![\w.])(?P<num>{NUMBER}){_END}[ \t]*\n?[ \t]*(?P<unit>{UNIT})(?![\w-])')
MARKER_RE = re.compile(r'<!--\s*figure:(?P<sources>.*?)-->', re.S)
COMMENT_RE = re.compile(r'<!--.*?-->', re.S)
CODE_SPAN_RE = re.compile(r'(`+)(.+?)(?<!`)\1(?!`)', re.S)
BETWEEN_OK = re.compile(r'[\s\])*_%]*')


@dataclass
class Figure:
    """A number as written: its value (seconds for a duration), the rounding it was written with, where."""
    text: str
    value: float
    half_step: float
    duration: bool
    three_decimals: bool
    start: int
    end: int


def _decimals(number: str) -> int:
    return len(number.split('.', 1)[1]) if '.' in number else 0


def _parse(number: str) -> float:
    return float(number.replace(',', ''))


def figure_of(m: re.Match) -> Figure | None:
    """The figure of a FIGURE_RE or SINGLE_RE match; ``None`` for a "3 min 5 min", which is two."""
    num, unit = m.group('num', 'unit')
    num2, unit2 = (m.group('num2', 'unit2') if 'num2' in m.re.groupindex else (None, None))
    if unit2 is not None and not SECONDS[unit] > SECONDS[unit2]:
        return None
    scale = SECONDS[unit] if unit else 1
    value, half = _parse(num) * scale, 0.5 * 10 ** -_decimals(num) * scale
    if unit2:
        value += _parse(num2) * SECONDS[unit2]
        half = 0.5 * 10 ** -_decimals(num2) * SECONDS[unit2]
    return Figure(re.sub(r'\s+', ' ', m.group(0)), value, half, unit is not None,
                  unit is None and _decimals(num) == 3, m.start(), m.end())


def figures_in(text: str, start: int = 0, end: int | None = None) -> list[Figure]:
    out, pos, end = [], start, len(text) if end is None else end
    while True:
        m = FIGURE_RE.search(text, pos, end)
        if not m:
            return out
        fig = figure_of(m) or figure_of(SINGLE_RE.match(text, m.start()))  # "3 min 5 min": the first alone
        out.append(fig)
        pos = fig.end


# ---------------------------------------------------------------------------------------------------------
# Reading a page: prose with code and comments blanked (offsets kept), code-block lines, markers


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + re.sub(r'[^\n]', ' ', text[start:end]) + text[end:]


@dataclass
class Marker:
    sources: list[str]
    start: int
    end: int


@dataclass
class Page:
    path: Path
    text: str
    prose: str                                  # code blocks, code spans and comments blanked
    code_lines: list[tuple[int, str]]           # (line number, line) of fenced code blocks
    markers: list[Marker]

    def line_of(self, offset: int) -> int:
        return self.text.count('\n', 0, offset) + 1


@lru_cache(maxsize=None)
def read_page(path: Path) -> Page:
    text = path.read_text(encoding='utf-8')
    prose, code_lines, fence, offset = text, [], None, 0
    for number, line in enumerate(text.split('\n'), 1):
        stripped = line.lstrip()
        in_block = fence is not None or stripped.startswith(('```', '~~~'))
        if fence is None and stripped.startswith(('```', '~~~')):
            fence = stripped[:3]
        elif fence is not None and stripped.startswith(fence):
            fence = None
        elif fence is not None:
            code_lines.append((number, line))
        if in_block:
            prose = _blank(prose, offset, offset + len(line))
        offset += len(line) + 1
    markers = []
    for m in COMMENT_RE.finditer(prose):
        marker = MARKER_RE.fullmatch(m.group(0))
        if marker:
            sources = [s.strip() for s in re.sub(r'\s+', ' ', marker.group('sources')).split(',')]
            markers.append(Marker(sources, m.start(), m.end()))
        prose = _blank(prose, m.start(), m.end())
    for paragraph in re.finditer(r'(?:.+\n?)+', prose):  # code spans stay inside one paragraph
        for m in CODE_SPAN_RE.finditer(paragraph.group(0)):
            prose = _blank(prose, paragraph.start() + m.start(), paragraph.start() + m.end())
    return Page(path, text, prose, code_lines, markers)


def paragraph_start(prose: str, offset: int) -> int:
    blank = [m.end() for m in re.finditer(r'\n[ \t]*\n', prose[:offset])]
    return blank[-1] if blank else 0


def tied_figures(page: Page) -> list[tuple[Marker, list[Figure], str | None]]:
    """(marker, the figures it ties, a problem or None) for every marker of the page."""
    out, previous_end = [], 0
    for marker in page.markers:
        start = max(previous_end, paragraph_start(page.prose, marker.start))
        found = figures_in(page.prose, start, marker.start)
        k = len(marker.sources)
        problem = None
        if len(found) < k:
            problem = f'{k} sources but {len(found)} figures before it in its paragraph'
        elif not BETWEEN_OK.fullmatch(page.prose[found[-1].end:marker.start]):
            problem = (f'not right after its figure {found[-1].text!r} '
                       f'(text between: {page.prose[found[-1].end:marker.start].strip()!r})')
        out.append((marker, [] if problem else found[-k:], problem))  # a misplaced marker ties nothing
        previous_end = marker.end
    return out


# ---------------------------------------------------------------------------------------------------------
# Reading a source


@lru_cache(maxsize=None)
def _json(path: Path):
    return json.loads(path.read_text())


@lru_cache(maxsize=None)
def _csv_rows(path: Path) -> tuple[dict, ...]:
    with open(path, newline='') as f:
        return tuple(csv.DictReader(f))


def source_value(source: str, root: Path = REPO) -> float:
    """The number a SOURCE names (see the module docstring), PATH relative to ``root``; ValueError saying
    what is wrong."""
    terms = [t.strip() for t in source.split(' + ')]
    if len(terms) > 1:
        return sum(source_value(t, root) for t in terms)
    m = re.fullmatch(r'(?P<path>[^?:]+)(?:\?(?P<where>[^:]*))?:(?P<key>.+)', source)
    if not m:
        raise ValueError(f'{source!r} is not PATH:KEY or PATH?COLUMN=VALUE&...:COLUMN')
    path = root / m.group('path')
    if not path.is_file():
        raise ValueError(f'{m.group("path")} does not exist (a figure without its source)')
    key = m.group('key')
    if path.suffix == '.csv':
        where = dict(kv.split('=', 1) for kv in (m.group('where') or '').split('&') if kv)
        rows = [r for r in _csv_rows(path) if all(r.get(c) == v for c, v in where.items())]
        if len(rows) != 1:
            raise ValueError(f'{source!r}: {len(rows)} rows of {m.group("path")} match {where}, not one')
        if key not in rows[0]:
            raise ValueError(f'{source!r}: no column {key!r}')
        value = rows[0][key]
        try:
            return float(value)
        except ValueError:
            raise ValueError(f'{source!r}: {value!r} is not a number') from None
    if m.group('where'):
        raise ValueError(f'{source!r}: a row selector (?...) is for a csv')
    value = _json(path)
    for part in key.split('.'):
        try:
            value = value[int(part)] if isinstance(value, list) else value[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise ValueError(f'{source!r}: {m.group("path")} has no {key!r} (stopped at {part!r})') from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f'{source!r}: {value!r} is not a number')
    return float(value)


def mismatch(figure: Figure, source: str, root: Path = REPO) -> str | None:
    try:
        value = source_value(source, root)
    except ValueError as e:
        return str(e)
    if math.isclose(figure.value, value, abs_tol=figure.half_step + 1e-9):
        return None
    shown = f'{value:g} s' if figure.duration else f'{value:g}'
    return f'{figure.text!r} but {source} is {shown}'


# ---------------------------------------------------------------------------------------------------------
# The checks


@pytest.mark.parametrize('doc', DOCS, ids=DOC_IDS)
def test_tied_figures_match_their_files(doc: Path):
    page = read_page(doc)
    wrong = []
    for marker, figures, problem in tied_figures(page):
        where = f'{doc.relative_to(REPO)}:{page.line_of(marker.start)}'
        if problem:
            wrong.append(f'{where}: marker {problem}')
            continue
        wrong += [f'{where}: {msg}' for fig, src in zip(figures, marker.sources)
                  if (msg := mismatch(fig, src))]
    assert not wrong, 'figures that do not say what their files say:\n' + '\n'.join(wrong)


def scanned_span(doc: Path, page: Page) -> list[tuple[int, int]]:
    """Offsets of the page scanned for untied figures (all of it, but a page or section NOT_SCANNED)."""
    rel = str(doc.relative_to(REPO))
    if rel not in NOT_SCANNED:
        return [(0, len(page.text))]
    heading, _ = NOT_SCANNED[rel]
    if heading is None:
        return []
    m = re.search(rf'^##\s+{re.escape(heading)}\s*$', page.text, re.M)
    assert m, f'{rel}: NOT_SCANNED names a section {heading!r} the page does not have'
    nxt = re.compile(r'^##\s', re.M).search(page.text, m.end())
    return [(0, m.start()), (nxt.start() if nxt else len(page.text), len(page.text))]


@lru_cache(maxsize=None)
def line_offsets(text: str) -> tuple[int, ...]:
    return tuple(m.start() for m in re.finditer(r'^', text, re.M))


@pytest.mark.parametrize('doc', DOCS, ids=DOC_IDS)
def test_no_measured_figure_without_its_source(doc: Path):
    page = read_page(doc)
    tied = {(f.start, f.end) for _, figures, _ in tied_figures(page) for f in figures}
    untied = []
    for lo, hi in scanned_span(doc, page):
        for fig in figures_in(page.prose, lo, hi):
            if (fig.duration or fig.three_decimals) and (fig.start, fig.end) not in tied:
                untied.append(f'{doc.relative_to(REPO)}:{page.line_of(fig.start)}: {fig.text!r}')
        for number, line in page.code_lines:
            if lo <= line_offsets(page.text)[number - 1] < hi:
                untied += [f'{doc.relative_to(REPO)}:{number}: {f.text!r} in a code block'
                           for f in figures_in(line) if f.duration]
    assert not untied, ('measured figures without a source: tie each to its measurement file with '
                        '<!-- figure: PATH:KEY --> right after it (tests/test_docs_figures.py), or drop it:\n'
                        + '\n'.join(untied))


def test_install_time_file_and_its_quote():
    """The first install's time is quoted from benchmarks/install_time.json, which says how it was measured."""
    record = json.loads((REPO / INSTALL_TIME).read_text())
    assert set(record) >= {'seconds', 'cores', 'date', 'command'}, sorted(record)
    assert isinstance(record['seconds'], (int, float)) and record['seconds'] > 0
    assert isinstance(record['cores'], int) and record['cores'] > 0
    assert re.fullmatch(r'\d{4}-\d{2}-\d{2}', record['date']) and 'make install' in record['command']
    quoted = [src for marker in read_page(REPO / 'README.md').markers for src in marker.sources]
    assert f'{INSTALL_TIME}:seconds' in quoted, "README.md's Install section quotes the install time from its file"


def test_demo_figures_have_one_place():
    """The demo's measured figures are quoted in docs/experiments.md's demo section only, from a committed
    file (the section says where that file goes); the other pages link there."""
    page = read_page(REPO / 'docs' / 'experiments.md')
    start = page.text.index('## The demo (`make demo`)')
    nxt = re.compile(r'^##\s', re.M).search(page.text, start + 1)
    end = nxt.start() if nxt else len(page.text)
    from_demo_file = [s for m in page.markers if start <= m.start < end for s in m.sources if 'benchmarks/demo/' in s]
    assert from_demo_file or "THE DEMO'S MEASURED FIGURES" in page.text[start:end], \
        'the demo section quotes its figures from benchmarks/demo/ or keeps the marked place for them'
    for doc in DOCS:
        if doc.name != 'experiments.md':
            elsewhere = [s for m in read_page(doc).markers for s in m.sources if 'benchmarks/demo/' in s]
            assert not elsewhere, f'{doc.relative_to(REPO)} quotes demo figures: link to the demo section instead'
    for rel in ('README.md', 'docs/get_started.md'):
        assert 'experiments.md#the-demo-make-demo' in (REPO / rel).read_text(), rel


# ---------------------------------------------------------------------------------------------------------
# The parsers themselves, on small inputs


def test_parsers_on_examples(tmp_path):
    (tmp_path / 'm.json').write_text(json.dumps({'s': 461, 'a': {'b': [0.1571, 0.249]}, 'flag': True}))
    (tmp_path / 'r.csv').write_text('arm,seed,mAP,wall_seconds\nreal,0,0.157,562.1\nsyn,0,0.216,530.1\n'
                                    'syn,1,0.2,1\n')
    doc = tmp_path / 'doc.md'
    doc.write_text('\n'.join([
        'Install: 7 min 41 s<!-- figure: m.json:s -->, then 0.157 [0.114, 0.249]<!-- figure:',
        '  m.json:a.b.0, m.json:a.b.0, m.json:a.b.1 --> (the middle one is wrong).',
        'About 18 minutes<!-- figure: r.csv?arm=real&seed=0:wall_seconds + r.csv?arm=syn&seed=0:wall_seconds -->',
        'and 0.216 **<!-- figure: r.csv?arm=syn:mAP -->**; torch 2.13.0, `took 5 s`, x0.125.',
        '',
        'Untied: 15 min, 0.333 and 2 h; tied too far: 0.216 here<!-- figure: m.json:s -->.',
        '```bash',
        'make demo   # about 10 min',
        '```',
    ]))
    page = read_page(doc)
    assert [f.text for f in figures_in('7 min 41 s, 2.13.0, N=50, 27\nminutes, 0.6 s.')] == \
        ['7 min 41 s', '50', '27 minutes', '0.6 s']
    assert figures_in('3 min 5 min')[0].text == '3 min'
    ties = tied_figures(page)
    assert [[f.text for f in figs] for _, figs, _ in ties] == [
        ['7 min 41 s'], ['0.157', '0.114', '0.249'], ['18 minutes'], ['0.216'], []]
    assert [problem for *_, problem in ties][:4] == [None] * 4 and 'not right after' in ties[4][2]
    results = [[mismatch(f, s, tmp_path) for f, s in zip(figs, m.sources)] for m, figs, _ in ties[:4]]
    assert results[0] == [None] and results[2] == [None]
    assert results[1][0] is None and results[1][2] is None and "'0.114' but m.json:a.b.0" in results[1][1]
    assert '2 rows of r.csv match' in results[3][0]
    with pytest.raises(ValueError, match='does not exist'):
        source_value('nope.json:x', tmp_path)
    with pytest.raises(ValueError, match='is not a number'):
        source_value('m.json:flag', tmp_path)
    tied = {(f.start, f.end) for _, figs, _ in ties for f in figs}
    untied = [f.text for f in figures_in(page.prose) if (f.duration or f.three_decimals)
              and (f.start, f.end) not in tied]
    assert untied == ['15 min', '0.333', '2 h', '0.216']
    assert [f.text for n, line in page.code_lines for f in figures_in(line) if f.duration] == ['10 min']
