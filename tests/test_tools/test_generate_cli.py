"""tools/generate.py with a tiny GLIGEN saved by `python -m mmgen_det.testing.tiny_gligen`, resumed,
then drawn by tools/browse_synthetic.py."""
from __future__ import annotations

import json
from pathlib import Path

from helpers import run_tool
from PIL import Image

CLASSES = ('0', '1', '2', '5', '6', '7', '8')


def write_config(tmp_path: Path, fish_coco: Path, model_dir: Path, out: Path, num_images: int) -> Path:
    phrases = {c: f'a fish of species {c}' for c in CLASSES}
    text = f'''
custom_imports = dict(imports=['mmgen_det'], allow_failed_imports=False)
train_dataloader = dict(dataset=dict(
    type='SyntheticDetDataset', data_root={f"{out}/"!r}, ann_file='annotations.json',
    generation=dict(num_images={num_images}, seed=3, batch_size=2, image_format='png',
        layout=dict(ann_file={str(fish_coco / "annotations" / "train.json")!r}, strategy='jitter',
                    width=64, height=64, zoom=(2.0, 3.0), min_box_cells=0.5),
        generator=dict(type='gligen', model={str(model_dir)!r}, grounding='text-box',
                       prompt='an underwater photo of {{phrases}}', phrases={phrases!r},
                       num_inference_steps=2, scheduled_sampling_beta=1.0, device='cpu', batch_size=2))))
'''
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / 'gen_cfg.py'
    path.write_text(text)
    return path


def test_generate_resume_and_browse(tmp_path, fish_coco):
    model_dir = tmp_path / 'tiny'
    proc = run_tool(['-m', 'mmgen_det.testing.tiny_gligen', '--out', str(model_dir)])
    assert (model_dir / 'model_index.json').is_file() and proc.stdout.strip()
    out = tmp_path / 'set'
    cfg = write_config(tmp_path, fish_coco, model_dir, out, num_images=3)
    proc = run_tool(['tools/generate.py', str(cfg)])
    assert '3 generated now' in proc.stdout
    coco = json.loads((out / 'annotations.json').read_text())
    assert [im['id'] for im in coco['images']] == [0, 1, 2]
    assert all(Image.open(out / im['file_name']).size == (64, 64) for im in coco['images'])
    record = coco['images'][0]['generation']
    assert record['generator'] == 'gligen' and record['grounding'] == 'text-box'
    assert record['prompt'].startswith('an underwater photo of a fish of species')

    # extending the set generates only the new images; the old ones are untouched
    before = (out / 'images' / '000000000.png').read_bytes()
    proc = run_tool(['tools/generate.py', str(cfg), '--num-images', '4'])
    assert '1 generated now' in proc.stdout
    assert (out / 'images' / '000000000.png').read_bytes() == before

    grid = tmp_path / 'grid.png'
    proc = run_tool(['tools/browse_synthetic.py', str(out), '--out', str(grid), '--num', '4'])
    assert Image.open(grid).size[0] > 0 and 'drew 4 of 4 images' in proc.stdout


def test_two_ranks_make_the_same_set_as_one(tmp_path, fish_coco):
    """torchrun with 2 CPU processes (gloo) shards the indices; the set equals the 1-process set."""
    import numpy as np
    model_dir = tmp_path / 'tiny'
    run_tool(['-m', 'mmgen_det.testing.tiny_gligen', '--out', str(model_dir)])
    one, two = tmp_path / 'one', tmp_path / 'two'
    run_tool(['tools/generate.py', str(write_config(tmp_path / 'a', fish_coco, model_dir, one, 4)), '--no-progress'])
    cfg_two = write_config(tmp_path / 'b', fish_coco, model_dir, two, 4)
    proc = run_tool(['-m', 'torch.distributed.run', '--nproc-per-node', '2', '--master-port', '29517',
                     'tools/generate.py', str(cfg_two), '--launcher', 'pytorch', '--no-progress'],
                    env={'OMP_NUM_THREADS': '1'})
    assert '2 generated now' in proc.stdout  # each rank made its half
    a = json.loads((one / 'annotations.json').read_text())
    b = json.loads((two / 'annotations.json').read_text())
    assert a['annotations'] == b['annotations'] and len(b['images']) == 4
    for im in a['images']:
        x = np.asarray(Image.open(one / im['file_name']), dtype=np.int16)
        y = np.asarray(Image.open(two / im['file_name']), dtype=np.int16)
        assert np.abs(x - y).max() <= 1, im['file_name']  # batch composition changes float rounding only
