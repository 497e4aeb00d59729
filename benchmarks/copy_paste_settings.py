"""What each copy-paste setting does: the same layouts and seeds, one row per setting, into one picture.

Every row is a copy-paste set of ``--num-images`` images made from the same real data with the same
layout settings and seed, so the layouts, backgrounds and crops are the same in every row and only the
named setting changes (``'scene'`` draws its own backgrounds). The rows: the plain generator, each
appearance setting turned fully on alone (``mmgen_det/generation/appearance.py``), each blend, scene
backgrounds, and the shipped presets of the experiments' generators (``recipes.generation.COPY_PASTE``).
Boxes are the set's annotations, drawn as ``browse_synthetic.py`` draws them.

    python benchmarks/copy_paste_settings.py                      # the shipped Fish4Knowledge sample
    python benchmarks/copy_paste_settings.py --data DIR --format voc --out settings.jpg
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO  # noqa: E402

FULL = dict(brightness='auto', contrast='auto', saturation='auto')
#: row name -> the generator settings it adds to the plain generator's
SETTINGS: dict[str, dict[str, Any]] = {
    'plain': {},
    'colour auto': dict(appearance=dict(colour=FULL)),
    'hue 0.05, gamma 0.3': dict(appearance=dict(colour=dict(hue=0.05, gamma=0.3))),
    'blur 1.0': dict(appearance=dict(blur=1.0, blur_sigma=(1.0, 2.0))),
    'motion blur 1.0': dict(appearance=dict(motion_blur=1.0, motion_blur_length=(5, 9))),
    'scale (0.5, 2.0)': dict(appearance=dict(scale=(0.5, 2.0))),
    'rotation 30': dict(appearance=dict(rotation=30)),
    'truncation 1.0': dict(appearance=dict(truncation=1.0, min_visible=0.4)),
    'blend none': dict(blend='none'),
    'blend poisson': dict(blend='poisson'),
    'blend motion': dict(blend='motion'),
    'background shift': dict(appearance=dict(background=dict(brightness=0.3, contrast=0.3, saturation=0.3))),
    'background scene': dict(background='scene'),
}
LABEL_WIDTH = 150


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument('--data', type=Path, default=REPO / 'data' / 'fish4knowledge-mini', help='a labelled export')
    p.add_argument('--format', default='auto', help='its format (auto, yolo, voc, coco)')
    p.add_argument('--num-images', type=int, default=4)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--tile', type=int, default=240, help='px width of one image')
    p.add_argument('--out', type=Path, default=REPO / 'docs' / 'copy_paste_settings.jpg')
    return p.parse_args(argv)


def rows(settings: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``settings`` plus one row per shipped preset (its blend, appearance and background settings)."""
    from mmgen_det.recipes.generation import COPY_PASTE, PRESET_KEYS, config_generator
    presets = {}
    for name, base in COPY_PASTE.items():
        if base:
            preset = config_generator(base)
            presets[f'preset {name}'] = {k: preset[k] for k in PRESET_KEYS if k in preset}
    return {**settings, **presets}


def make_sets(real_root: Path, ann_file: Path, num_images: int, seed: int, work: Path) -> dict[str, Path]:
    """One copy-paste set per row of :func:`rows`, in ``work``: row name -> set folder."""
    from mmgen_det.datasets.profile import profile_coco
    from mmgen_det.generation import generate_synthetic_set
    from mmgen_det.recipes.generation import derive_generation

    base = derive_generation('copy-paste', profile_coco(json.loads(ann_file.read_text())), 1.0, f'{real_root}/')
    base.update(num_images=num_images, seed=seed)
    sets = {}
    for k, (name, extra) in enumerate(rows(SETTINGS).items()):
        sets[name] = work / f'set{k}'
        generate_synthetic_set(dict(base, generator=dict(base['generator'], **extra), out_dir=str(sets[name])),
                               progress=False)
        print(f'{name}: made', flush=True)
    return sets


def settings_picture(sets: dict[str, Path], tile: int) -> Image.Image:
    """One labelled row of tiles per set, its images with their boxes."""
    from mmgen_det.visualization.grid import coco_grid

    pictures = []
    for name, folder in sets.items():
        coco = json.loads((folder / 'annotations.json').read_text())
        grid = coco_grid(coco, folder, [im['id'] for im in coco['images']], cols=len(coco['images']), tile=tile,
                         caption_key=None)
        row = Image.new('RGB', (LABEL_WIDTH + grid.width, grid.height), (30, 30, 30))
        row.paste(grid, (LABEL_WIDTH, 0))
        ImageDraw.Draw(row).text((6, grid.height // 2 - 6), name, fill=(240, 240, 240))
        pictures.append(row)
    sheet = Image.new('RGB', (max(p.width for p in pictures), sum(p.height for p in pictures)), (30, 30, 30))
    y = 0
    for picture in pictures:
        sheet.paste(picture, (0, y))
        y += picture.height
    return sheet


def main(argv=None) -> None:
    args = parse_args(argv)
    from mmgen_det.datasets import convert_dataset
    from mmgen_det.utils.io import atomic_write

    with tempfile.TemporaryDirectory() as tmp:
        real = Path(tmp) / 'real'
        convert_dataset(args.data, args.format, real)
        sets = make_sets(real, real / 'annotations' / 'train.json', args.num_images, args.seed, Path(tmp))
        sheet = settings_picture(sets, args.tile)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(args.out, 'wb') as f:
        sheet.save(f, format='JPEG', quality=85)
    print(f'wrote {args.out} ({sheet.width}x{sheet.height})')


if __name__ == '__main__':
    main()
