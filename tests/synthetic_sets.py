"""Shared by the generation CLI and fault tests: a tiny-GLIGEN generation config, and the checks that
a synthetic set on disk is complete and equal to a reference set."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ('0', '1', '2', '5', '6', '7', '8')


def write_gligen_config(path: Path, fish_coco: Path, model_dir: Path, out: Path, num_images: int,
                        image_format: str = 'png', batch_size: int = 2) -> Path:
    """A config for tools/generate.py: tiny GLIGEN (2 steps, 64x64), layouts jittered from the real set."""
    phrases = {c: f'a fish of species {c}' for c in CLASSES}
    text = f'''
custom_imports = dict(imports=['mmgen_det'], allow_failed_imports=False)
train_dataloader = dict(dataset=dict(
    type='SyntheticDetDataset', data_root={f"{out}/"!r}, ann_file='annotations.json',
    generation=dict(num_images={num_images}, seed=3, batch_size={batch_size}, image_format={image_format!r},
        layout=dict(ann_file={str(fish_coco / "annotations" / "train.json")!r}, strategy='jitter',
                    width=64, height=64, zoom=(2.0, 3.0), min_box_cells=0.5),
        generator=dict(type='gligen', model={str(model_dir)!r}, grounding='text-box',
                       prompt='an underwater photo of {{phrases}}', phrases={phrases!r},
                       num_inference_steps=2, scheduled_sampling_beta=1.0, device='cpu'))))
'''
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def assert_complete_set(out: Path, num_images: int) -> dict:
    """Exactly ``num_images`` images with unique ids, every annotation on a decodable image, a whole
    manifest line per image, no orphan image and no temp file left; returns the COCO dict."""
    coco = json.loads((out / 'annotations.json').read_text())
    ids = [im['id'] for im in coco['images']]
    assert sorted(ids) == list(range(num_images)), ids
    assert len({a['id'] for a in coco['annotations']}) == len(coco['annotations'])
    assert {a['image_id'] for a in coco['annotations']} <= set(ids)
    for im in coco['images']:
        with Image.open(out / im['file_name']) as img:
            img.load()
            assert img.size == (im['width'], im['height'])
    on_disk = sorted(p.relative_to(out).as_posix() for p in (out / 'images').iterdir())
    assert on_disk == sorted(im['file_name'] for im in coco['images']), 'orphan or temp files in images/'
    assert not [p for p in out.rglob('.tmp-*')], 'temp files left behind'
    lines = (out / 'manifest.jsonl').read_text().splitlines()
    assert len(lines) == num_images and all(json.loads(line) for line in lines)
    return coco


def assert_same_images(ref: Path, got: Path) -> None:
    """Same file names, layouts and pixels as ``ref``: PNG within 1 grey level, JPEG above 40 dB PSNR
    (a different batch composition changes float rounding, nothing else)."""
    a = json.loads((ref / 'annotations.json').read_text())
    b = json.loads((got / 'annotations.json').read_text())
    assert a['annotations'] == b['annotations']
    assert [im['file_name'] for im in a['images']] == [im['file_name'] for im in b['images']]
    for im in a['images']:
        x = np.asarray(Image.open(ref / im['file_name']), dtype=np.float64)
        y = np.asarray(Image.open(got / im['file_name']), dtype=np.float64)
        if im['file_name'].endswith('.png'):
            assert np.abs(x - y).max() <= 1, im['file_name']
        else:
            mse = ((x - y) ** 2).mean()
            assert mse == 0 or 10 * np.log10(255 ** 2 / mse) > 40, im['file_name']
