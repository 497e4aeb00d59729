"""The documentation says only what the repository does: README.md, CHANGELOG.md and docs/*.md.

1. Every relative markdown link or image (``[..](path)``, ``![..](path)``) resolves to an existing file
   or folder, relative to the markdown file (http(s)/mailto links and pure ``#anchors`` are skipped, a
   ``#fragment`` is stripped); a fragment into another markdown page names one of its headings.
2. Every ``make TARGET`` written in a code span or a code block is a target of the Makefile.
3. Every ``tools/X.py`` / ``benchmarks/X.py`` written in code exists, and every ``--flag`` written after
   it in the same command (a code span, or a code-block line with its ``\\`` continuations and the
   ``#   [--option ...]`` lines under it) appears in that script's ``--help``. Flags in ``BENCH_ARGS='...'``
   are checked against ``benchmarks/bench_accuracy.py``, which the Makefile passes them to. An installed
   command (``mmgen-det-run``, setup.py's ``COMMANDS``) or ``python -m mmgen_det.cli.X`` counts as the
   ``tools/`` script that runs the same module; an unknown one is a missing script.

Each script's ``--help`` is produced once, and only for scripts that are written with flags. Importing
the stack (torch, mmdet) costs about 10 s per process on 2 cores, so one helper process runs every
script as ``__main__`` with ``argv = [script, '--help']`` (what ``python SCRIPT --help`` does) and
reuses the imports; a script that does not exit cleanly there is run again in a process of its own.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest
from helpers import console_commands

REPO = Path(__file__).resolve().parents[1]
COMMANDS = console_commands()  # installed command -> module of mmgen_det.cli
DOCS = [REPO / 'README.md', REPO / 'CHANGELOG.md', *sorted((REPO / 'docs').glob('*.md'))]
DOC_IDS = [str(p.relative_to(REPO)) for p in DOCS]
SCRIPT_RE = re.compile(r'(?<![\w./-])((?:tools|benchmarks)/[\w-]+\.py|mmgen-det-[a-z-]+|-m mmgen_det\.cli\.\w+)'
                       r'(?![\w.-])')
FLAG_RE = re.compile(r'(?<![\w-])(--[A-Za-z][\w-]*)')
# make, then its arguments up to a comment or a shell separator
MAKE_RE = re.compile(r'(?:^|(?<=[\s(;&|]))make((?:[ \t]+[^\s#;&|`]+)*)')
BENCH_ARGS_RE = re.compile(r"BENCH_ARGS=(['\"])(.*?)\1", re.S)
# A link or image: [text](target "title"); link text may hold code spans and line breaks.
LINK_RE = re.compile(r'!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')
HELP_TIMEOUT_S = 120


# ---------------------------------------------------------------------------------------------------------
# Reading markdown: prose (code spans masked) and code (fenced blocks, code spans) apart


def split_markdown(text: str) -> tuple[str, list[str], list[str]]:
    """(prose with code masked, lines of fenced code blocks, code spans with line breaks as spaces)."""
    prose_lines, block_lines = [], []
    fence = None
    for line in text.split('\n'):
        stripped = line.lstrip()
        if fence is None and stripped.startswith(('```', '~~~')):
            fence = stripped[:3]
            prose_lines.append('')
        elif fence is not None:
            if stripped.startswith(fence):
                fence = None
                prose_lines.append('')
            else:
                block_lines.append(line)
                prose_lines.append('')
        else:
            prose_lines.append(line)
    prose = '\n'.join(prose_lines)
    spans = []
    for paragraph in re.split(r'\n\s*\n', prose):
        for m in re.finditer(r'(`+)(.+?)(?<!`)\1(?!`)', paragraph, re.S):
            spans.append(re.sub(r'\s+', ' ', m.group(2)).strip())
    masked = '\n\n'.join(re.sub(r'(`+)(.+?)(?<!`)\1(?!`)', 'CODE', p, flags=re.S)
                         for p in re.split(r'\n\s*\n', prose))
    return masked, block_lines, spans


def block_commands(lines: list[str]) -> list[str]:
    """Shell commands of code-block lines: comments cut, ``\\`` continuations joined, and a comment line
    listing options (``#   [--seeds 0 1 2] ...``) appended to the command above it."""
    commands: list[str] = []
    pending = ''
    for line in lines:
        stripped = line.strip()
        option_comment = re.match(r'#\s*[\[(]?\s*--', stripped)
        if option_comment and commands and not pending:
            commands[-1] += ' ' + stripped.lstrip('#')
            continue
        code = re.split(r'(?:^|\s)#', line, maxsplit=1)[0].rstrip()
        if code.endswith('\\'):
            pending += code[:-1] + ' '
            continue
        commands.append(pending + code)
        pending = ''
    if pending:
        commands.append(pending)
    return [c for c in commands if c.strip()]


@lru_cache(maxsize=None)
def read_doc(path: Path) -> tuple[str, tuple[str, ...]]:
    """(prose with code masked, every command written in code: code-block commands and code spans)."""
    prose, block_lines, spans = split_markdown(path.read_text(encoding='utf-8'))
    return prose, tuple(block_commands(block_lines) + spans)


# ---------------------------------------------------------------------------------------------------------
# 1. links


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: markup and punctuation dropped, lower case, spaces as hyphens."""
    text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', heading)  # a link's text only
    text = text.replace('`', '').strip().lower()
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


@lru_cache(maxsize=None)
def anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    out = set()
    in_code = False
    for line in path.read_text(encoding='utf-8').split('\n'):
        if line.lstrip().startswith(('```', '~~~')):
            in_code = not in_code
            continue
        m = None if in_code else re.match(r'#{1,6}\s+(.*?)\s*#*\s*$', line)
        if m:
            slug = github_slug(m.group(1))
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else f'{slug}-{n}')
    return frozenset(out)


def relative_links(path: Path) -> list[tuple[str, str, str]]:
    """(target as written, file part, fragment) of every relative link or image of ``path``."""
    prose, _ = read_doc(path)
    out = []
    for m in LINK_RE.finditer(prose):
        target = m.group(2)
        if re.match(r'[a-zA-Z][a-zA-Z0-9+.-]*:', target) or target.startswith('#'):
            continue  # http(s)://, mailto:, or an anchor in the same page
        file_part, _, fragment = target.partition('#')
        out.append((target, file_part, fragment))
    return out


@pytest.mark.parametrize('doc', DOCS, ids=DOC_IDS)
def test_relative_links_resolve(doc: Path):
    broken = [target for target, file_part, _ in relative_links(doc)
              if not (doc.parent / file_part).exists()]
    assert not broken, f'{doc.relative_to(REPO)}: links to files that do not exist: {broken}'


@pytest.mark.parametrize('doc', DOCS, ids=DOC_IDS)
def test_link_fragments_name_headings(doc: Path):
    """``page.md#section`` and ``#section`` name a heading of that page (GitHub's anchors)."""
    prose, _ = read_doc(doc)
    wrong = []
    for m in LINK_RE.finditer(prose):
        target = m.group(2)
        if re.match(r'[a-zA-Z][a-zA-Z0-9+.-]*:', target) or '#' not in target:
            continue
        file_part, _, fragment = target.partition('#')
        page = (doc.parent / file_part) if file_part else doc
        if page.suffix == '.md' and page.is_file() and fragment not in anchors(page):
            wrong.append(target)
    assert not wrong, f'{doc.relative_to(REPO)}: links to headings that do not exist: {wrong}'


# ---------------------------------------------------------------------------------------------------------
# 2. make targets


@lru_cache(maxsize=None)
def makefile_targets() -> frozenset[str]:
    targets = set()
    for line in (REPO / 'Makefile').read_text().split('\n'):
        m = re.match(r'([A-Za-z0-9_.-][A-Za-z0-9_. -]*?)\s*:(?![:=])', line)
        if m and not m.group(1).startswith('.'):
            targets.update(m.group(1).split())
    return frozenset(targets)


def make_targets_named(commands) -> list[str]:
    named = []
    for command in commands:
        for m in MAKE_RE.finditer(command):
            for word in m.group(1).split():
                if '=' in word or word.startswith('-'):
                    continue  # a variable (GENERATOR=...) or an option of make
                if not re.fullmatch(r'[A-Za-z0-9_.-]+', word):
                    break  # prose after the command
                named.append(word)
    return named


@pytest.mark.parametrize('doc', DOCS, ids=DOC_IDS)
def test_make_targets_exist(doc: Path):
    _, commands = read_doc(doc)
    unknown = sorted({t for t in make_targets_named(commands) if t not in makefile_targets()})
    assert not unknown, (f'{doc.relative_to(REPO)}: `make` targets the Makefile does not have: {unknown} '
                         f'(it has {sorted(makefile_targets())})')


# ---------------------------------------------------------------------------------------------------------
# 3. scripts and their flags


def cut_at_separator(rest: str) -> str:
    """The rest of one shell command: up to ``&&``, ``||``, ``;``, or a pipe into another command (``|``
    between options, as in ``[--prefix P | --depth 18]``, is an alternative, not a pipe)."""
    m = re.search(r'&&|\|\||;|\|(?=\s*[A-Za-z./$])', rest)
    return rest[:m.start()] if m else rest


def as_script(name: str) -> str:
    """The repository script a command names: ``mmgen-det-run`` and ``-m mmgen_det.cli.run_experiment``
    are ``tools/run_experiment.py``; an unknown command stays as written (and is reported missing)."""
    if name.startswith('-m mmgen_det.cli.'):
        return f'tools/{name.rsplit(".", 1)[1]}.py'
    if name.startswith('mmgen-det-'):
        module = COMMANDS.get(name)
        return f'tools/{module}.py' if module else name
    return name


def script_uses(commands) -> list[tuple[str, list[str]]]:
    """(script, flags written after it in the same command) for every script named in ``commands``."""
    uses = []
    for command in commands:
        matches = list(SCRIPT_RE.finditer(command))
        for i, m in enumerate(matches):
            end = matches[i + 1].start() if i + 1 < len(matches) else len(command)
            rest = cut_at_separator(command[m.end():end])
            uses.append((as_script(m.group(1)), FLAG_RE.findall(rest)))
        for m in BENCH_ARGS_RE.finditer(command):
            uses.append(('benchmarks/bench_accuracy.py', FLAG_RE.findall(m.group(2))))
    return uses


def all_script_uses() -> dict[Path, list[tuple[str, list[str]]]]:
    return {doc: script_uses(read_doc(doc)[1]) for doc in DOCS}


_HELPER = r'''
import contextlib, io, json, runpy, sys
out = {}
for script in sys.argv[1:]:
    buf = io.StringIO()
    saved = sys.argv
    sys.argv = [script, '--help']
    code = None
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            runpy.run_path(script, run_name='__main__')
    except SystemExit as e:
        code = e.code or 0
    except BaseException as e:
        code = f'{type(e).__name__}: {e}'
    finally:
        sys.argv = saved
    out[script] = {'code': code, 'help': buf.getvalue()}
print('\n@@HELP@@' + json.dumps(out))
'''


def _help_env() -> dict[str, str]:
    return {**os.environ, 'COLUMNS': '200', 'PYTHONWARNINGS': 'ignore'}


def _own_process_help(script: str) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, script, '--help'], cwd=REPO, env=_help_env(), capture_output=True,
                          text=True, timeout=HELP_TIMEOUT_S)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope='module')
def script_help() -> dict[str, str]:
    """``--help`` text of every script written with flags anywhere in the docs, produced once each."""
    scripts = sorted({script for uses in all_script_uses().values() for script, flags in uses
                      if flags and (REPO / script).is_file()})
    if not scripts:
        return {}
    proc = subprocess.run([sys.executable, '-c', _HELPER, *scripts], cwd=REPO, env=_help_env(),
                          capture_output=True, text=True, timeout=HELP_TIMEOUT_S)
    shared = {}
    if '@@HELP@@' in proc.stdout:
        shared = json.loads(proc.stdout.rsplit('@@HELP@@', 1)[1])
    helps = {}
    for script in scripts:
        result = shared.get(script)
        if result is not None and result['code'] == 0 and 'usage' in result['help']:
            helps[script] = result['help']
            continue
        code, text = _own_process_help(script)  # did not exit cleanly beside the others
        assert code == 0, f'python {script} --help exited with {code}:\n{text[-2000:]}'
        helps[script] = text
    return helps


@pytest.mark.parametrize('doc', DOCS, ids=DOC_IDS)
def test_named_scripts_exist(doc: Path):
    missing = sorted({script for script, _ in all_script_uses()[doc] if not (REPO / script).is_file()})
    assert not missing, f'{doc.relative_to(REPO)}: names scripts that do not exist: {missing}'


@pytest.mark.parametrize('doc', DOCS, ids=DOC_IDS)
def test_script_flags_are_accepted(doc: Path, script_help: dict[str, str]):
    unknown = []
    for script, flags in all_script_uses()[doc]:
        if script not in script_help:
            continue  # no flags written after it, or missing (test_named_scripts_exist says so)
        for flag in flags:
            if not re.search(rf'(?<![\w-]){re.escape(flag)}(?![\w-])', script_help[script]):
                unknown.append(f'{script} {flag}')
    assert not unknown, (f'{doc.relative_to(REPO)}: flags that the script\'s --help does not list: '
                         f'{sorted(set(unknown))}')


# ---------------------------------------------------------------------------------------------------------
# The parsers themselves, on small inputs


def test_parsers_on_examples():
    text = '\n'.join([
        'See [a](docs/a.md#x) and ![img](p.png), [web](https://x.org), [here](#top), `[not](code.md)`.',
        '```bash',
        'make test   # installs',
        'python tools/pr_filter.py DIR --checkpoint CKPT \\',
        '    [--score-thr 0.05 | --class-aware]   # comment --not-a-flag',
        'python tools/run_experiment.py --data PATH',
        '#   [--num-real 25 50] [--seeds 0]',
        '```',
        '`make demo GENERATOR=gligen-text` and `tools/convert_dataset.py --overwrite` and',
        "`BENCH_ARGS='--num-real 10\n--dry-run'`; `python tools/generate.py CONFIG && make bench`.",
        '`mmgen-det-run --data P` `torchrun -m mmgen_det.cli.generate C --launcher pytorch` `mmgen-det-nope --x`',
    ])
    prose, block_lines, spans = split_markdown(text)
    commands = block_commands(block_lines) + spans
    assert [m.group(2) for m in LINK_RE.finditer(prose)] == ['docs/a.md#x', 'p.png', 'https://x.org', '#top']
    assert make_targets_named(commands) == ['test', 'demo', 'bench']
    assert script_uses(commands) == [
        ('tools/pr_filter.py', ['--checkpoint', '--score-thr', '--class-aware']),
        ('tools/run_experiment.py', ['--data', '--num-real', '--seeds']),
        ('tools/convert_dataset.py', ['--overwrite']),
        ('benchmarks/bench_accuracy.py', ['--num-real', '--dry-run']),
        ('tools/generate.py', []),
        ('tools/run_experiment.py', ['--data']),
        ('tools/generate.py', ['--launcher']),
        ('mmgen-det-nope', ['--x']),
    ]
    assert github_slug("Step by step with mmdet's tools") == 'step-by-step-with-mmdets-tools'
    assert github_slug('The demo (`make demo`)') == 'the-demo-make-demo'
