"""Layout sampling and copy-paste generation speed on the shipped Fish4Knowledge sample (CPU, no model).

* **layouts**: ``LayoutSampler.sample`` for 1,000 indices (``--quick``: 200) with ``'jitter'`` and with
  ``'fit'`` (zoom 1-2, 512x512 canvas) from the sample's train split. Target: under 4 ms a layout (one
  is made per generated image; the cheapest image, copy-paste below, takes about 15 ms at 512x512).
* **copy-paste**: ``CopyPasteGenerator.generate`` on 8 layouts copied from real images, at 512x512 and
  at the frames' own size rounded to the latent cell (360x200); ms per image, no target (the baseline's
  cost, for comparison with GLIGEN's seconds per image).

Medians over ``--repeats`` after one untimed warm-up (which also builds the copy-paste backgrounds).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, main_with_common_cli, median_time, result, row  # noqa: E402

F4K = REPO / 'data' / 'fish4knowledge-mini'
LAYOUT_TARGET_MS = 4.0
CANVASES = ((512, 512), (360, 200))


def f4k_train() -> tuple[dict[str, Any], Path]:
    """The sample's train split as a COCO dict whose file names are relative to its image folder."""
    from mmgen_det.datasets.formats.yolo import read_yolo

    (split,) = [s for s in read_yolo(F4K) if s.name == 'train']
    for im in split.coco['images']:
        im['file_name'] = Path(im['file_name']).name
    return split.coco, F4K / 'train' / 'images'


def run(quick: bool = False, repeats: int | None = None) -> dict[str, Any]:
    from mmgen_det.generation.copy_paste import CopyPasteGenerator
    from mmgen_det.layouts import LayoutSampler

    repeats = repeats or (1 if quick else 5)
    num_layouts = 200 if quick else 1000
    coco, img_root = f4k_train()
    measurements: dict[str, Any] = {}
    rows = []
    for strategy in ('jitter', 'fit'):
        sampler = LayoutSampler(coco, strategy=strategy, zoom=(1.0, 2.0))
        timing = median_time(lambda: [sampler.sample(i) for i in range(num_layouts)], repeats)
        ms = timing['median_s'] / num_layouts * 1000
        measurements[f'layouts_{strategy}'] = dict(timing, ms_per_layout=ms)
        rows.append(row(f"'{strategy}' layouts, {num_layouts:,} sampled (zoom 1-2, 512x512)", f'{ms:.3f} ms/layout',
                        f'< {LAYOUT_TARGET_MS:g} ms/layout', ms < LAYOUT_TARGET_MS))
    generator = CopyPasteGenerator(coco, img_root)
    for width, height in CANVASES:
        sampler = LayoutSampler(coco, strategy='copy', aspect='stretch', width=width, height=height,
                                min_box_cells=0)
        layouts = [sampler.sample(i) for i in range(8)]
        timing = median_time(lambda: generator.generate(layouts, list(range(len(layouts)))), repeats)
        ms = timing['median_s'] / len(layouts) * 1000
        measurements[f'copy_paste_{width}x{height}'] = dict(timing, ms_per_image=ms)
        rows.append(row(f'copy-paste images at {width}x{height} (8 real layouts, every box kept)',
                        f'{ms:.0f} ms/image'))
    settings = dict(data=str(F4K.relative_to(REPO)), num_layouts=num_layouts, repeats=repeats)
    return result('layouts_copy_paste', 'Layout sampling and copy-paste generation', settings, measurements, rows)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return main_with_common_cli(__doc__, run, argv)


if __name__ == '__main__':
    main()
