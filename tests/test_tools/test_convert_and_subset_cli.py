"""tools/convert_dataset.py and tools/make_subset.py end to end, through subprocesses."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).parents[2]


def run_tool(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join(filter(None, [str(REPO),
                                                                     os.environ.get('PYTHONPATH')]))}
    return subprocess.run([sys.executable, *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize('tool', ['convert_dataset.py', 'make_subset.py'])
def test_help(tool):
    result = run_tool(REPO / 'tools' / tool, '--help')
    assert result.returncode == 0 and '--out' in result.stdout


def test_convert_then_subset(tmp_path):
    out = tmp_path / 'fish'
    result = run_tool('tools/convert_dataset.py', 'data/fish4knowledge-mini', '--format', 'yolo',
                      '--out', out)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith('train: 200 images') and "'5': " in lines[0]
    assert lines[-1].startswith('Converted yolo data/fish4knowledge-mini') and '300 images' in lines[-1]

    subset = tmp_path / 'train_10.json'
    result = run_tool('tools/make_subset.py', out / 'annotations' / 'train.json',
                      '--num-images', '10', '--seed', '0', '--out', subset)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith(f'Wrote {subset}: 10 images')
    coco = json.loads(subset.read_text())
    assert coco['info'] == {'subset_of': str(out / 'annotations' / 'train.json'),
                            'num_images': 10, 'seed': 0}
    assert len(coco['categories']) == 7 and all((out / img['file_name']).is_file()
                                                for img in coco['images'])

    result = run_tool('tools/make_subset.py', subset, '--num-images', '11', '--seed', '0',
                      '--out', tmp_path / 'too_many.json')
    assert result.returncode != 0 and 'only 10 images' in result.stderr
    assert not (tmp_path / 'too_many.json').exists()


def test_convert_bad_input_fails_with_message(tmp_path):
    src = tmp_path / 'src'
    (src / 'train' / 'images').mkdir(parents=True)
    (src / 'train' / 'labels').mkdir()
    (src / 'data.yaml').write_text('train: train/images\nnames: [a]\n')
    Image.new('RGB', (8, 8)).save(src / 'train' / 'images' / 'x.jpg')
    (src / 'train' / 'labels' / 'x.txt').write_text('0 0.5 0.5 0.2\n')
    result = run_tool('tools/convert_dataset.py', src, '--format', 'yolo', '--out', tmp_path / 'out')
    assert result.returncode != 0
    assert 'x.txt: line 1: expected 5 fields' in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ['src']
