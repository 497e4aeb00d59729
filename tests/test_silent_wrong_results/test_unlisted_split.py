"""A split folder an export wrote but its yaml does not list is used, and said so.

Roboflow's YOLO exports of some datasets (the aquarium set among them) write ``train/``, ``valid/``
and ``test/`` beside a ``data.yaml`` that lists only ``train`` and ``val``. Reading the yaml alone
dropped the 63 test images without a word, and the runner then carved a test split out of the
training images.
"""
from __future__ import annotations

import json

from helpers import write_image

from mmgen_det.datasets import convert_dataset, read_dataset


def roboflow_export(root, listed=('train', 'val')):
    folders = {'train': 'train', 'val': 'valid', 'test': 'test'}
    for i, (split, folder) in enumerate(folders.items()):
        for k in range(2):
            write_image(root / folder / 'images' / f'{split}{k}.jpg', (40, 30), 10 * i + k)
            (root / folder / 'labels').mkdir(parents=True, exist_ok=True)
            (root / folder / 'labels' / f'{split}{k}.txt').write_text('0 0.5 0.5 0.2 0.2\n')
    lines = [f'{s}: ../{folders[s]}/images' for s in listed] + ['nc: 1', "names: ['fish']"]
    (root / 'data.yaml').write_text('\n'.join(lines) + '\n')
    return root


def test_an_unlisted_test_folder_becomes_the_test_split_with_a_note(tmp_path, capsys):
    src = roboflow_export(tmp_path / 'src')
    splits = {s.name: s for s in read_dataset(src)}
    assert sorted(splits) == ['test', 'train', 'val']
    assert [im['file_name'] for im in splits['test'].coco['images']] == ['images/test/test0.jpg',
                                                                          'images/test/test1.jpg']
    assert any('no test: key' in note for note in splits['test'].fallbacks)
    convert_dataset(src, 'auto', tmp_path / 'out')
    assert 'data.yaml has no test: key; used test/images/' in capsys.readouterr().err
    report = json.loads((tmp_path / 'out' / 'conversion_report.json').read_text())
    assert any('no test: key' in note for note in json.dumps(report).split('"') if note)


def test_a_listed_split_is_read_as_listed(tmp_path):
    src = roboflow_export(tmp_path / 'src', listed=('train', 'val', 'test'))
    splits = {s.name: s for s in read_dataset(src)}
    assert sorted(splits) == ['test', 'train', 'val'] and not any(s.fallbacks for s in splits.values())
