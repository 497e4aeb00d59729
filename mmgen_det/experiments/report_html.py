"""``report.html``: ``report.md`` as a page, with links to a gallery of every generated set.

In: the work dir, the text of ``report.md`` (tables, plots, settings) and the sweep's stage results.
Out: ``WORK/report.html`` and, beside each generated set, ``stages/generate/<stage>/gallery/`` (see
``mmgen_det.visualization.gallery``; thumbnails are made once, later runs refresh the scores only).
The page is the same report as the markdown, rendered, so the two cannot disagree.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Sequence

from ..generation.set_format import ANNOTATIONS
from ..utils.io import atomic_write

STYLE = '''body { font: 14px/1.45 system-ui, sans-serif; max-width: 1200px; margin: 16px auto; padding: 0 16px; }
table { border-collapse: collapse; margin: 8px 0; } th, td { border: 1px solid #ccc; padding: 3px 8px; }
tr:nth-child(even) td { background: #f6f6f6; } img { max-width: 100%; }
pre { background: #f4f4f4; padding: 8px; overflow-x: auto; font-size: 12px; }
nav.galleries { background: #f0f4fa; border: 1px solid #c8d4e6; border-radius: 4px; padding: 6px 12px; }
nav.galleries li { margin: 2px 0; }'''


def markdown_to_html(text: str) -> str:
    """CommonMark with tables (markdown-it-py, installed with mmengine's rich); raw HTML escaped."""
    from markdown_it import MarkdownIt
    return MarkdownIt('commonmark', {'html': False}).enable('table').render(text)


def build_galleries(results: Sequence[Any]) -> list[tuple[str, Path]]:
    """A gallery of every generated set of the sweep, compared with the real images of its run."""
    from ..visualization.gallery import build_gallery
    data = next((r for r in results if r.stage == 'data' and r.status != 'to run'), None)
    out = []
    for r in results:
        set_dir = r.dir / 'set'
        if r.stage != 'generate' or not (set_dir / ANNOTATIONS).is_file():
            continue
        title = f"{r.record.get('generator', 'generated')}: {r.dir.name}"
        summary = build_gallery(set_dir, r.dir / 'gallery', real_root=data.dir / 'coco' if data else None,
                                title=title)
        out.append((f'{title} ({summary.num_images} images)', summary.index))
    return out


def render_page(name: str, report_md: str, galleries: Sequence[tuple[str, str]]) -> str:
    links = ''.join(f'<li><a href="{html.escape(href)}">{html.escape(label)}</a></li>' for label, href in galleries)
    nav = (f'<nav class="galleries"><b>Galleries of the generated sets</b> (every image, its scores and a '
           f'threshold control)<ul>{links}</ul></nav>' if galleries else '')
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(name)}</title>'
            f'<style>{STYLE}</style></head>\n<body>\n{nav}\n{markdown_to_html(report_md)}</body></html>\n')


def write_report_html(work_dir: str | Path, name: str, report_md: str, results: Sequence[Any]) -> Path:
    """Build the galleries, then write ``report.html`` beside ``report.md``."""
    from ..visualization.gallery import url
    work_dir = Path(work_dir)
    galleries = [(label, url(index, work_dir)) for label, index in build_galleries(results)]
    path = work_dir / 'report.html'
    with atomic_write(path, 'w') as f:
        f.write(render_page(name, report_md, galleries))
    return path
