"""What a set of layouts looks like to the generator: box counts, box sizes in latent cells, drops.

Layout-to-image models work in a latent grid of 8x8-pixel cells (Stable Diffusion's VAE), so a box
under ~2 cells on its shorter side cannot be drawn as a recognisable object. These statistics put the
real annotations and the sampled layouts side by side in those units, so a user sees at once whether
the objects are renderable and what zooming or dropping did to them.

In: per-image box sizes in pixels of the generated image (or :class:`Layout` objects).
Out: a plain, JSON-serialisable ``dict`` and :func:`format_stats` for a short readable table.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .layout import Layout

#: pixels per latent cell of the generated image (Stable Diffusion VAE downsampling factor)
LATENT_CELL = 8
PERCENTILES = (5, 25, 50, 75, 95)


def _percentiles(values: np.ndarray) -> dict[str, float | None]:
    if not len(values):
        return {f'p{p}': None for p in PERCENTILES}
    return {f'p{p}': round(float(v), 2) for p, v in zip(PERCENTILES, np.percentile(values, PERCENTILES))}


def summarize_boxes(sizes_px: Sequence[np.ndarray], labels: Sequence[Sequence[str]], *, name: str,
                    dropped: Mapping[str, int] | None = None, redraws: int = 0,
                    redraw_dropped: Mapping[str, int] | None = None, min_cells: float = 2.0) -> dict[str, Any]:
    """Statistics of a set of images given each image's ``(K, 2)`` box ``(width, height)`` in pixels.

    The "side" of a box is its shorter side: it decides whether the generator can render it.
    ``dropped`` (boxes removed, by reason), ``redraws`` and ``redraw_dropped`` (boxes of redrawn
    attempts, by reason) are reported as given.
    """
    counts = np.array([len(s) for s in sizes_px], dtype=np.int64)
    sides = np.concatenate([np.asarray(s, dtype=np.float64).reshape(-1, 2).min(axis=1) for s in sizes_px]) \
        if len(sizes_px) else np.zeros(0)
    cells = sides / LATENT_CELL
    return dict(
        name=name,
        num_images=int(len(counts)),
        num_boxes=int(counts.sum()),
        boxes_per_image=dict(
            mean=round(float(counts.mean()), 3) if len(counts) else None,
            min=int(counts.min()) if len(counts) else None,
            max=int(counts.max()) if len(counts) else None,
            hist={int(k): int(v) for k, v in sorted(Counter(counts.tolist()).items())}),
        short_side_px=_percentiles(sides),
        short_side_cells=_percentiles(cells),
        min_cells=min_cells,
        frac_under_min_cells=round(float((cells < min_cells).mean()), 4) if len(cells) else None,
        per_class=dict(sorted(Counter(str(x) for ls in labels for x in ls).items())),
        dropped=dict(sorted((k, int(v)) for k, v in (dropped or {}).items())),
        redraws=int(redraws),
        redraw_dropped=dict(sorted((k, int(v)) for k, v in (redraw_dropped or {}).items() if v)),
    )


def layout_stats(layouts: Iterable[Layout], name: str = 'layouts', min_cells: float = 2.0) -> dict[str, Any]:
    """Statistics of sampled layouts; drops and redraws are summed from each ``layout.source``."""
    layouts = list(layouts)
    dropped: Counter[str] = Counter()
    redraw_dropped: Counter[str] = Counter()
    for layout in layouts:
        dropped.update(layout.source.get('dropped', {}))
        redraw_dropped.update(layout.source.get('redraw_dropped', {}))
    sizes = [np.diff(layout.pixel_boxes().reshape(-1, 2, 2), axis=1).reshape(-1, 2) for layout in layouts]
    return summarize_boxes(sizes, [layout.labels for layout in layouts], name=name, dropped=dropped,
                           redraws=sum(int(layout.source.get('attempt', 0)) for layout in layouts),
                           redraw_dropped=redraw_dropped, min_cells=min_cells)


def _fmt(value: Any) -> str:
    return '-' if value is None else f'{value:g}' if isinstance(value, float) else str(value)


def format_stats(*stats: Mapping[str, Any]) -> str:
    """A table with one column per statistics dict (e.g. ``real``, ``layouts``, ``layouts zoom 2``)."""
    def row(title: str, get) -> list[str]:
        return [title] + [_fmt(get(s)) for s in stats]

    rows = [row('', lambda s: s['name']),
            row('images', lambda s: s['num_images']),
            row('boxes', lambda s: s['num_boxes']),
            row('boxes/image mean', lambda s: s['boxes_per_image']['mean']),
            row('boxes/image min-max', lambda s: f"{_fmt(s['boxes_per_image']['min'])}-"
                                                 f"{_fmt(s['boxes_per_image']['max'])}")]
    for p in ('p5', 'p50', 'p95'):
        rows.append(row(f'short side px {p}', lambda s, p=p: s['short_side_px'][p]))
    rows.append(row('short side cells p50', lambda s: s['short_side_cells']['p50']))
    rows.append(row('frac under min cells', lambda s: s['frac_under_min_cells']))
    for cls in sorted({c for s in stats for c in s['per_class']}):
        rows.append(row(f'class {cls}', lambda s, c=cls: s['per_class'].get(c, 0)))
    for reason in sorted({r for s in stats for r in s['dropped']}):
        rows.append(row(f'dropped: {reason}', lambda s, r=reason: s['dropped'].get(r, 0)))
    rows.append(row('redraws', lambda s: s['redraws']))
    for reason in sorted({r for s in stats for r in s['redraw_dropped']}):
        rows.append(row(f'dropped in redraws: {reason}', lambda s, r=reason: s['redraw_dropped'].get(r, 0)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return '\n'.join('  '.join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     for r in rows)
