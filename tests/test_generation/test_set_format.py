"""The set format and the keep rule: ``kept_ids`` on hand-built sets, rule by rule and combined; its
errors; it and the gallery import without mmdet or torch; each set name is defined in one place."""
from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest
from helpers import REPO

from mmgen_det.generation import set_format
from mmgen_det.generation.set_format import kept_ids
from mmgen_det.utils.keys import UnknownKeyError

# id, (width, height), category of its one box (None: no box; 99: none of the set's), (precision, recall)
# under 'a', distance under 'f' (None: the scorer could not decode it); in file order, not id order
ROWS = [(6, (100, 80), 1, (1.0, 1.0), 2.0),
        (1, (100, 80), 1, (0.5, 0.5), 1.0),
        (2, (100, 80), None, (1.0, 1.0), 0.5),
        (3, (30, 80), 1, (1.0, 1.0), 0.5),
        (4, (100, 80), 1, (0.49, 1.0), 0.5),
        (5, (100, 80), 1, (1.0, 1.0), None),
        (7, (100, 80), 99, (1.0, 1.0), 0.5),
        (8, (100, 80), 1, (0.9, 0.9), 0.2)]
ALL = [6, 1, 2, 3, 4, 5, 7, 8]


def make_set(rows=ROWS) -> dict:
    images = [dict(id=i, file_name=f'images/{i:09d}.jpg', width=w, height=h,
                   pr_filter={'a': dict(precision=p, recall=r)}, feature_distance={'f': dict(distance=d)})
              for i, (w, h), _, (p, r), d in rows]
    annotations = [dict(id=k, image_id=i, category_id=c, bbox=[1, 1, 10, 10], area=100, iscrowd=0)
                   for k, (i, _, c, _, _) in enumerate(rows) if c is not None]
    return dict(images=images, annotations=annotations, categories=[dict(id=1, name='fish')])


@pytest.mark.parametrize('filter_cfg, kept', [
    (None, ALL),
    ({}, ALL),
    (dict(filter_empty_gt=False), ALL),
    (dict(filter_empty_gt=True), [6, 1, 3, 4, 5, 8]),  # 2 has no box, 7 none of a set's category
    (dict(min_size=80), [6, 1, 2, 4, 5, 7, 8]),  # inclusive: 100x80 is kept, 30x80 is not
    (dict(min_precision=0.5), [6, 1, 2, 3, 5, 7, 8]),  # inclusive
    (dict(min_recall=0.6), [6, 2, 3, 4, 5, 7, 8]),
    (dict(min_precision=0.5, min_recall=0.5, pr_key='a'), [6, 1, 2, 3, 5, 7, 8]),
    (dict(max_feature_distance=1.0), [1, 2, 3, 4, 7, 8]),  # inclusive; a null distance fails
    (dict(max_feature_distance=1.0, feature_key='f'), [1, 2, 3, 4, 7, 8]),
    (dict(filter_empty_gt=True, min_size=50, min_precision=0.5, min_recall=0.5, pr_key='a',
          max_feature_distance=1.0, feature_key='f'), [1, 8]),
])
def test_each_rule_and_all_together(filter_cfg, kept):
    assert kept_ids(make_set(), filter_cfg) == kept


def test_the_scores_to_filter_on_must_be_named_and_stored():
    coco = make_set()
    for im in coco['images']:
        im['pr_filter']['b'] = dict(precision=1.0, recall=0.0)
    assert kept_ids(coco, dict(min_recall=0.5, pr_key='b')) == []
    with pytest.raises(ValueError, match=r"image 6: scores from several scorers are stored \(\['a', 'b'\]\)"):
        kept_ids(coco, dict(min_recall=0.5))
    with pytest.raises(ValueError, match="no scores under pr_key 'c'"):
        kept_ids(coco, dict(min_recall=0.5, pr_key='c'))
    with pytest.raises(ValueError, match="no scores under feature_key 'g'"):
        kept_ids(coco, dict(max_feature_distance=1.0, feature_key='g'))
    # an image the box rule drops needs no scores; one it keeps does
    del coco['images'][2]['pr_filter']
    assert kept_ids(coco, dict(filter_empty_gt=True, min_recall=0.5, pr_key='a')) == [6, 1, 3, 4, 5, 8]
    with pytest.raises(ValueError, match=r'set.json image 2: no scores stored for this filter'):
        kept_ids(coco, dict(min_recall=0.5, pr_key='a'), where='set.json')


def test_a_misspelt_or_impossible_threshold_is_refused():
    with pytest.raises(UnknownKeyError, match="did you mean 'min_precision'"):
        kept_ids(make_set(), dict(min_precison=0.5))
    with pytest.raises(ValueError, match=r'filter_cfg.min_recall must be in \[0, 1\], got 1.5'):
        kept_ids(make_set(), dict(min_recall=1.5))


def test_the_format_and_the_gallery_need_neither_mmdet_nor_torch():
    coco = make_set()
    code = ('import json, sys; sys.modules.update(mmdet=None, mmcv=None, mmengine=None, torch=None); '
            'import mmgen_det.visualization.gallery; from mmgen_det.generation.set_format import kept_ids; '
            f'print(json.dumps(kept_ids({coco!r}, dict(filter_empty_gt=True, max_feature_distance=1.0))))')
    out = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [1, 3, 4, 8]


def test_each_set_name_and_the_keep_rule_are_defined_in_set_format_only():
    values = {v for k, v in vars(set_format).items() if k.isupper() and isinstance(v, str)}
    functions = {'read_annotations', 'select_scores', 'passes', 'passes_scores', 'kept_ids'}
    found = []
    for path in sorted((REPO / 'mmgen_det').rglob('*.py')):
        if path.name == 'set_format.py':
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name in functions:
                found.append(f'{path.relative_to(REPO)}: def {node.name}')
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                    and node.value.value in values):
                found.append(f'{path.relative_to(REPO)}: {ast.unparse(node)}')
    assert not found, found
