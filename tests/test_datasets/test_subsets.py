"""Seeded nested subsets: nesting, class coverage, determinism, all categories kept, errors."""
from pathlib import Path

import pytest

from mmgen_det.datasets.formats import read_dataset
from mmgen_det.datasets.subsets import make_subset, subset_order

FISH_MINI = Path(__file__).parents[2] / 'data' / 'fish4knowledge-mini'


@pytest.fixture(scope='module')
def fish_train() -> dict:
    return next(s.coco for s in read_dataset(FISH_MINI, 'yolo') if s.name == 'train')


def image_ids(coco: dict) -> set[int]:
    return {img['id'] for img in coco['images']}


def class_names(coco: dict) -> set[str]:
    names = {c['id']: c['name'] for c in coco['categories']}
    return {names[a['category_id']] for a in coco['annotations']}


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_subsets_are_nested(fish_train, seed):
    small, medium, large = (image_ids(make_subset(fish_train, n, seed)) for n in (10, 50, 100))
    assert len(small) == 10 and len(medium) == 50 and len(large) == 100
    assert small < medium < large


@pytest.mark.parametrize('seed', range(5))
def test_every_class_present_when_n_allows(fish_train, seed):
    all_classes = class_names(fish_train)
    assert len(all_classes) == 7
    for n in (7, 8, 12):
        assert class_names(make_subset(fish_train, n, seed)) == all_classes


def test_deterministic_and_seed_dependent(fish_train):
    assert subset_order(fish_train, 0) == subset_order(fish_train, 0)
    assert make_subset(fish_train, 20, 0) == make_subset(fish_train, 20, 0)
    assert image_ids(make_subset(fish_train, 20, 0)) != image_ids(make_subset(fish_train, 20, 1))
    shuffled = {**fish_train, 'images': fish_train['images'][::-1]}
    assert subset_order(shuffled, 3) == subset_order(fish_train, 3)  # file order does not matter
    assert sorted(subset_order(fish_train, 0)) == sorted(image_ids(fish_train))


def test_subset_keeps_categories_annotations_and_info(fish_train):
    subset = make_subset(fish_train, 1, 4, source='train.json')
    assert subset['categories'] == fish_train['categories']
    assert subset['info'] == {'subset_of': 'train.json', 'num_images': 1, 'seed': 4}
    (image,) = subset['images']
    assert image in fish_train['images']
    assert subset['annotations'] == [a for a in fish_train['annotations']
                                     if a['image_id'] == image['id']]


def test_images_without_boxes_come_last():
    coco = {'images': [{'id': i, 'file_name': f'{i}.jpg'} for i in range(1, 9)],
            'annotations': [{'id': i, 'image_id': i, 'category_id': 1 + i % 2, 'bbox': [0, 0, 1, 1]}
                            for i in (2, 3, 5)],
            'categories': [{'id': 1, 'name': 'a'}, {'id': 2, 'name': 'b'}]}
    order = subset_order(coco, 0)
    assert set(order[:3]) == {2, 3, 5} and len(order) == 8


@pytest.mark.parametrize('n, message', [(201, 'only 200 images'), (0, 'positive'),
                                        (-3, 'positive')])
def test_bad_sizes(fish_train, n, message):
    with pytest.raises(ValueError, match=message):
        make_subset(fish_train, n, 0)


def _dataset(rng_seed: int = 0):
    import numpy as np
    rng = np.random.default_rng(rng_seed)
    images, anns = [], []
    for i in range(1, 101):
        images.append(dict(id=i, file_name=f'{i}.jpg', width=64, height=64))
        cats = [1] * int(rng.integers(1, 4)) + ([2] if i % 10 == 0 else []) + ([3] if i in (5, 50, 95) else [])
        for c in cats if i % 17 else []:  # every 17th image has no boxes
            anns.append(dict(id=len(anns) + 1, image_id=i, category_id=c, bbox=[1, 1, 8, 8], area=64, iscrowd=0))
    return dict(images=images, annotations=anns, categories=[dict(id=c, name=str(c)) for c in (1, 2, 3)])


def test_split_off_is_disjoint_stratified_and_seeded():
    from mmgen_det.datasets.subsets import split_off
    coco = _dataset()
    parts = split_off(coco, {'val': 0.15, 'test': 0.15}, seed=3)
    ids = {name: {im['id'] for im in part['images']} for name, part in parts.items()}
    assert sum(len(v) for v in ids.values()) == 100
    assert not (ids['train'] & ids['val'] or ids['train'] & ids['test'] or ids['val'] & ids['test'])
    for name in ('val', 'test'):
        assert 10 <= len(ids[name]) <= 20
        cats = {a['category_id'] for a in parts[name]['annotations']}
        assert cats == {1, 2, 3}, f'{name} misses a class: {cats}'  # class 3 has exactly 3 images
        assert {a['image_id'] for a in parts[name]['annotations']} <= ids[name]
    assert split_off(coco, {'val': 0.15, 'test': 0.15}, seed=3) == parts
    assert split_off(coco, {'val': 0.15, 'test': 0.15}, seed=4)['val']['images'] != parts['val']['images']
    assert parts['val']['info']['split'] == 'val'


def test_split_off_never_leaves_a_held_out_split_empty():
    from mmgen_det.datasets.subsets import split_off
    images = [dict(id=i, file_name=f'{i}.jpg', width=8, height=8) for i in range(1, 9)]
    anns = [dict(id=i, image_id=i, category_id=i, bbox=[0, 0, 2, 2], area=4, iscrowd=0) for i in range(1, 9)]
    coco = dict(images=images, annotations=anns, categories=[dict(id=i, name=str(i)) for i in range(1, 9)])
    parts = split_off(coco, {'val': 0.15, 'test': 0.15}, seed=0)  # every class has one image
    assert len(parts['val']['images']) == len(parts['test']['images']) == 1
    assert len(parts['train']['images']) == 6
