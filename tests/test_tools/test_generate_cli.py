"""tools/generate.py with a tiny GLIGEN saved by `python -m mmgen_det.testing.tiny_gligen`, extended,
then drawn by tools/browse_synthetic.py; `--cfg-options generation.KEY=VALUE` sets the one
`generation` of the config's synthetic dataset."""
from __future__ import annotations

import json

import pytest
from helpers import REPO, run_tool
from mmengine.config import Config
from PIL import Image
from synthetic_sets import write_gligen_config

from mmgen_det.cli import generate as tool

GENERATION_CONFIGS = sorted((REPO / 'configs' / '_base_' / 'generation').glob('*.py'))


def test_generate_resume_and_browse(tmp_path, fish_coco):
    model_dir = tmp_path / 'tiny'
    proc = run_tool(['-m', 'mmgen_det.testing.tiny_gligen', '--out', str(model_dir)])
    assert (model_dir / 'model_index.json').is_file() and proc.stdout.strip()
    out = tmp_path / 'set'
    cfg = write_gligen_config(tmp_path / 'gen_cfg.py', fish_coco, model_dir, out, num_images=3)
    proc = run_tool(['tools/generate.py', str(cfg), '--cfg-options', 'generation.batch_size=3'])
    assert '3 generated now in batches of 3' in proc.stdout
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


@pytest.mark.parametrize('config', GENERATION_CONFIGS, ids=lambda p: p.stem)
def test_generation_options_reach_the_one_generation(config):
    """The shipped configs describe the set once (the dataset's `generation`, no stale top-level copy,
    one batch size), and `generation.KEY=VALUE` options change that description."""
    assert 'generation' not in Config.fromfile(config)
    gen = tool.load_generation_cfg(tool.parse_args([str(config), '--cfg-options', 'generation.batch_size=5',
                                                    'generation.layout.width=64', 'generation.seed=7']))
    assert (gen.batch_size, gen.layout['width'], gen.seed) == (5, 64, 7)
    assert 'batch_size' not in gen.generator
