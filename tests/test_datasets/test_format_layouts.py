"""Datasets laid out as labelling tools export them, built on the fly: each layout is detected as
its format, read with the exact splits, class names and boxes, and each ambiguity is refused with
the fix. Images are 64x48 and 300x300; class names are multi-word and non-ASCII."""
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import yaml
from PIL import Image

from mmgen_det.datasets.formats import (DatasetFormatError, detect_format, read_dataset,
                                        split_summary)

REPO = Path(__file__).parents[2]
ONE_CLASS = ['rainbow trout']
TWENTY = ['rainbow trout', 'éléphant', 'sea lion', 'great white shark', 'blue tang', 'koi',
          'Unterwasser-Käfer', 'zebra fish', 'clown fish', 'manta ray', 'moray eel', 'sea horse',
          'octopus', 'squid', 'lobster', 'crab', 'starfish', 'jelly fish', 'turtle', '鯉']
SMALL, SQUARE = (64, 48), (300, 300)
# a YOLO line on each size and the COCO box it means
LINE_SMALL, BOX_SMALL = '0.5 0.5 0.25 0.5', [24, 12, 16, 24]
LINE_SQUARE, BOX_SQUARE = '0.5 0.5 0.2 0.2', [120, 120, 60, 60]


def write_image(path: Path, size=SMALL) -> Path:
    """A one-colour image, its colour from its path: two images are never the same bytes (splits
    sharing an image's content are refused)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    crc = zlib.crc32(str(path).encode())
    Image.new('RGB', size, (crc & 255, crc >> 8 & 255, crc >> 16 & 255)).save(path)
    return path


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding='utf-8')
    return path


def write_yaml(path: Path, cfg: dict) -> Path:
    return write_text(path, yaml.safe_dump(cfg, allow_unicode=True))


def yolo_pair(images: Path, labels: Path, stem: str, size, line: str | None, ext='.jpg') -> None:
    """One image, and its label file unless ``line`` is None."""
    write_image(images / f'{stem}{ext}', size)
    if line is not None:
        write_text(labels / f'{stem}.txt', line + '\n')


def boxes(split) -> dict[str, list[tuple[str, list[float]]]]:
    """Image name under ``images/<split>/`` -> [(class name, COCO box)] of a converted split."""
    names = {c['id']: c['name'] for c in split.coco['categories']}
    by_id = {img['id']: img['file_name'].removeprefix(f'images/{split.name}/')
             for img in split.coco['images']}
    out = {name: [] for name in by_id.values()}
    for ann in split.coco['annotations']:
        out[by_id[ann['image_id']]].append((names[ann['category_id']], ann['bbox']))
    return out


def by_name(splits) -> dict:
    return {s.name: s for s in splits}


def category_names(split) -> list[str]:
    return [c['name'] for c in split.coco['categories']]


# ----------------------------------------------------------------------------- YOLO with a yaml

def test_yolo_yaml_of_another_name_with_foreign_absolute_paths(tmp_path):
    """The exporter's machine wrote absolute (POSIX and Windows) paths: the split folders beside
    the yaml are used; the yaml is found given itself or its folder."""
    root = tmp_path / 'export'
    yaml_path = write_yaml(root / 'fish dataset.yaml', {
        'path': '/home/someone/datasets/fish', 'names': TWENTY, 'nc': 20,
        'train': '/home/someone/datasets/fish/train/images',
        'val': 'C:\\Users\\someone\\fish\\valid\\images'})
    yolo_pair(root / 'train' / 'images', root / 'train' / 'labels', 'a', SMALL, f'1 {LINE_SMALL}')
    yolo_pair(root / 'valid' / 'images', root / 'valid' / 'labels', 'b', SQUARE,
              f'19 {LINE_SQUARE}', ext='.png')
    assert detect_format(yaml_path) == 'yolo' and detect_format(root) == 'yolo'
    for src in (yaml_path, root):
        splits = by_name(read_dataset(src, 'auto'))
        assert list(splits) == ['train', 'val']
        assert category_names(splits['train']) == TWENTY
        assert boxes(splits['train']) == {'a.jpg': [('éléphant', BOX_SMALL)]}
        assert boxes(splits['val']) == {'b.png': [('鯉', pytest.approx(BOX_SQUARE))]}
    (root / 'valid' / 'images' / 'b.png').rename(root / 'b.png')
    (root / 'valid' / 'images').rmdir()
    with pytest.raises(DatasetFormatError, match=r'fish dataset\.yaml: val: C:.*no image folder'):
        read_dataset(yaml_path)


def test_yolo_folder_with_one_yaml_ultralytics_layout(tmp_path):
    """Ultralytics' images/<split> + labels/<split>, names as a dict, a missing ``path:``, a foreign
    absolute ``train:`` (found by its last parts), an empty ``test:``, another yaml without names."""
    root = tmp_path / 'ds'
    write_yaml(root / 'coco8.yml', {'path': '../datasets/coco8', 'train': '/data/coco8/images/train2017',
                                    'val': 'images/val', 'test': None, 'names': {0: 'rainbow trout'}})
    write_yaml(root / 'hyp.yaml', {'lr0': 0.01, 'mosaic': 1.0})
    yolo_pair(root / 'images' / 'train2017', root / 'labels' / 'train2017', 'x', SQUARE, f'0 {LINE_SQUARE}')
    yolo_pair(root / 'images' / 'val', root / 'labels' / 'val', 'y', SMALL, None)
    assert detect_format(root) == 'yolo'
    splits = by_name(read_dataset(root))
    assert list(splits) == ['train', 'val'] and category_names(splits['val']) == ONE_CLASS
    assert boxes(splits['train']) == {'x.jpg': [('rainbow trout', pytest.approx(BOX_SQUARE))]}
    assert boxes(splits['val']) == {'y.jpg': []}


def test_yolo_split_as_image_lists_and_folder_lists(tmp_path):
    """``train`` a list of folders, ``val`` a .txt of image paths (``./`` relative and another
    machine's absolute, found by its last parts: a fallback, recorded); labels found by
    Ultralytics' images -> labels rule."""
    root = tmp_path / 'ds'
    for part, size, line in (('part1', SMALL, LINE_SMALL), ('part2', SQUARE, LINE_SQUARE),
                             ('val1', SMALL, LINE_SMALL), ('val2', SQUARE, LINE_SQUARE)):
        yolo_pair(root / 'images' / part, root / 'labels' / part, 'a', size, f'0 {line}')
    write_text(root / 'val.txt', './images/val1/a.jpg\n\n/mnt/old/ds/images/val2/a.jpg\n')
    write_yaml(root / 'data.yaml', {'train': ['images/part1', 'images/part2'], 'val': 'val.txt',
                                    'names': ONE_CLASS})
    splits = by_name(read_dataset(root, 'yolo'))
    for split, parts in (('train', ('part1', 'part2')), ('val', ('val1', 'val2'))):
        assert boxes(splits[split]) == {f'{parts[0]}/a.jpg': [('rainbow trout', BOX_SMALL)],
                                        f'{parts[1]}/a.jpg': [('rainbow trout',
                                                               pytest.approx(BOX_SQUARE))]}
    assert not splits['train'].fallbacks
    assert splits['val'].fallbacks == [
        f"val.txt: 1 of 2 image paths do not exist here and were found by a fallback, first line 3, "
        f"/mnt/old/ds/images/val2/a.jpg -> {root / 'images' / 'val2' / 'a.jpg'} (its last 3 path parts)"]
    assert splits['val'].problems == {'path_fallback': 1}
    write_text(root / 'val.txt', './images/part1/gone.jpg\n')
    with pytest.raises(DatasetFormatError, match=r'val\.txt: line 1: image ./images/part1/gone'):
        read_dataset(root, 'yolo')


def test_yolo_two_yamls_with_names_are_refused(tmp_path):
    root = tmp_path / 'ds'
    yolo_pair(root / 'images', root / 'labels', 'a', SMALL, f'0 {LINE_SMALL}')
    write_yaml(root / 'data.yaml', {'train': 'images', 'names': ONE_CLASS})
    write_yaml(root / 'data-v2.yaml', {'train': 'images', 'names': ['pike']})
    assert detect_format(root) == 'yolo'
    with pytest.raises(DatasetFormatError, match=r"2 YOLO yaml files with names: \['data-v2\.yaml', "
                                                 r"'data\.yaml'\].*pass the one to convert"):
        read_dataset(root)
    (split,) = read_dataset(root / 'data-v2.yaml')
    assert category_names(split) == ['pike']


def test_yolo_export_unzipped_into_its_own_folder(tmp_path):
    """The yaml one level down is found; a folder of two datasets is refused as ambiguous."""
    root = tmp_path / 'downloads'
    yolo_pair(root / 'fish-3' / 'train' / 'images', root / 'fish-3' / 'train' / 'labels', 'a', SMALL,
              f'0 {LINE_SMALL}')
    write_yaml(root / 'fish-3' / 'data.yaml', {'train': '../train/images', 'names': ONE_CLASS})
    assert detect_format(root) == 'yolo'
    (split,) = read_dataset(root)
    assert boxes(split) == {'a.jpg': [('rainbow trout', BOX_SMALL)]}
    voc_pair(root / 'raccoons' / 'annotations', root / 'raccoons' / 'images', 'r')
    with pytest.raises(DatasetFormatError, match=r'several formats \(yolo: YOLO yaml fish-3/data\.yaml '
                                                 r'\(names:\); voc: VOC XML in raccoons/annotations/\)'):
        detect_format(root)


# ----------------------------------------------------------------------------- YOLO without a yaml

@pytest.mark.parametrize('names_file, names', [
    ('classes.txt', TWENTY), ('labels/obj.names', ONE_CLASS), ('classes.names', ['rainbow trout', 'éléphant']),
    ('labels/_darknet.labels', TWENTY)])
def test_yolo_bare_images_and_labels_with_a_names_file(tmp_path, names_file, names):
    """A flat images/ + labels/ folder is the one split ``train`` (not split here)."""
    root = tmp_path / 'ds'
    for i, (size, line) in enumerate([(SMALL, LINE_SMALL), (SQUARE, LINE_SQUARE), (SMALL, None)]):
        yolo_pair(root / 'images', root / 'labels', f'img{i}', size,
                  line and f'{len(names) - 1} {line}')
    write_text(root / names_file, '\n'.join(names) + '\n')
    assert detect_format(root) == 'yolo'
    (split,) = read_dataset(root, 'auto')
    assert split.name == 'train' and category_names(split) == names
    assert boxes(split) == {'img0.jpg': [(names[-1], BOX_SMALL)],
                            'img1.jpg': [(names[-1], pytest.approx(BOX_SQUARE))], 'img2.jpg': []}


@pytest.mark.parametrize('layout', ['images/{split}', '{split}/images'])
def test_yolo_split_folders_with_classes_argument(tmp_path, layout):
    root = tmp_path / 'ds'
    for split, stem, size, line in (('train', 't', SMALL, LINE_SMALL), ('valid', 'v', SQUARE, LINE_SQUARE)):
        images = root / layout.format(split=split)
        labels = root / layout.replace('images', 'labels').format(split=split)
        yolo_pair(images, labels, stem, size, f'7 {line}')
    assert detect_format(root) == 'yolo'
    splits = by_name(read_dataset(root, classes=TWENTY))
    assert list(splits) == ['train', 'val'] and category_names(splits['val']) == TWENTY
    assert boxes(splits['train']) == {'t.jpg': [('zebra fish', BOX_SMALL)]}
    assert boxes(splits['val']) == {'v.jpg': [('zebra fish', pytest.approx(BOX_SQUARE))]}


def test_yolo_without_names_says_how_to_give_them(tmp_path):
    root = tmp_path / 'ds'
    yolo_pair(root / 'images', root / 'labels', 'a', SMALL, f'0 {LINE_SMALL}')
    with pytest.raises(DatasetFormatError, match=r"no class names.*--classes 'name0,name1,...'.*"
                                                 r'classes\.txt'):
        read_dataset(root)


def test_yolo_class_index_beyond_the_names(tmp_path):
    root = tmp_path / 'ds'
    yolo_pair(root / 'images', root / 'labels', 'a', SMALL, f'0 {LINE_SMALL}\n1 {LINE_SMALL}')
    write_text(root / 'classes.txt', 'rainbow trout\n')
    with pytest.raises(DatasetFormatError, match=r'a\.txt: line 2: class index 1 is not in '
                                                 r'classes\.txt \(valid: \[0\]\)'):
        read_dataset(root)
    with pytest.raises(DatasetFormatError, match=r'line 2: class index 1 is not in the --classes'):
        read_dataset(root, classes=['pike'])


def test_yolo_segmentation_polygon_becomes_its_box(tmp_path):
    root = tmp_path / 'ds'
    polygon = '0 0.25 0.25 0.75 0.25 0.75 0.5 0.4 0.6 0.25 0.5'  # 5 points, the lowest at y=0.6
    yolo_pair(root / 'images', root / 'labels', 'a', SMALL, f'{polygon}\n0 {LINE_SMALL}')
    write_text(root / 'classes.txt', 'rainbow trout\n')
    (split,) = read_dataset(root)
    assert boxes(split)['a.jpg'] == [('rainbow trout', pytest.approx([16, 12, 32, 16.8])),
                                     ('rainbow trout', BOX_SMALL)]
    assert split.problems == {'polygon_to_box': 1}
    assert '1 polygons converted to boxes' in split_summary(split)


def test_yolo_images_with_labels_beside_them(tmp_path):
    """Images and their .txt in one folder (CVAT's YOLO 1.1 obj_train_data/, or flat)."""
    root = tmp_path / 'cvat'
    data = root / 'obj_train_data'
    yolo_pair(data, data, 'a', SMALL, f'1 {LINE_SMALL}')
    yolo_pair(data, data, 'b', SQUARE, None)
    write_text(root / 'obj.names', 'rainbow trout\néléphant\n')
    write_text(root / 'train.txt', 'data/obj_train_data/a.jpg\ndata/obj_train_data/b.jpg\n')
    assert detect_format(root) == 'yolo' and detect_format(data) == 'yolo'
    (split,) = read_dataset(root)
    assert split.name == 'train'
    assert boxes(split) == {'a.jpg': [('éléphant', BOX_SMALL)], 'b.jpg': []}
    (flat,) = read_dataset(data, classes=['rainbow trout', 'éléphant'])
    assert flat.name == 'train' and boxes(flat) == boxes(split)


# ----------------------------------------------------------------------------- VOC

VOC_XML = ('<annotation><folder>x</folder><filename>{filename}</filename><path>{path}</path>'
           '<size><width>{w}</width><height>{h}</height><depth>3</depth></size>{objects}'
           '</annotation>')
VOC_OBJECT = ('<object><name>{}</name><difficult>0</difficult><bndbox><xmin>{}</xmin>'
              '<ymin>{}</ymin><xmax>{}</xmax><ymax>{}</ymax></bndbox></object>')


def voc_pair(ann_dir: Path, img_dir: Path, stem: str, size=SMALL, name='rainbow trout',
             filename: str | None = None, ext='.jpg') -> list[float]:
    """An image and its XML with one box; returns the COCO box."""
    write_image(img_dir / f'{stem}{ext}', size)
    filename = f'{stem}{ext}' if filename is None else filename
    write_text(ann_dir / f'{stem}.xml', VOC_XML.format(
        filename=filename, path=f'/Users/someone/Desktop/{filename}', w=size[0], h=size[1],
        objects=VOC_OBJECT.format(name, 4, 6, 20, 30)))
    return [4, 6, 16, 24]


@pytest.mark.parametrize('ann, img', [('VOC2012/Annotations', 'VOC2012/JPEGImages'),
                                      ('annotations', 'images'), ('annots', 'imgs'),
                                      ('My Annotations', 'photo files')])
def test_voc_folder_pairs_are_found(tmp_path, ann, img):
    root = tmp_path / 'voc'
    box_a = voc_pair(root / ann, root / img, 'a', SMALL, 'rainbow trout')
    box_b = voc_pair(root / ann, root / img, 'b b', SQUARE, 'éléphant', ext='.png')
    if ann.startswith('VOC2012'):  # the devkit's masks: a second image folder beside the XML
        write_image(root / 'VOC2012' / 'SegmentationClass' / 'a.png')
    assert detect_format(root) == 'voc'
    (split,) = read_dataset(root, 'auto')
    assert split.name == 'train' and category_names(split) == ['rainbow trout', 'éléphant']
    assert boxes(split) == {'a.jpg': [('rainbow trout', box_a)], 'b b.png': [('éléphant', box_b)]}
    assert not split.problems


def test_voc_devkit_image_sets_one_level_down(tmp_path):
    root = tmp_path / 'VOCdevkit'
    for stem in ('a', 'b', 'c'):
        voc_pair(root / 'VOC2012' / 'Annotations', root / 'VOC2012' / 'JPEGImages', stem)
    write_text(root / 'VOC2012' / 'ImageSets' / 'Main' / 'train.txt', 'a\nc\n')
    write_text(root / 'VOC2012' / 'ImageSets' / 'Main' / 'val.txt', 'b\n')
    write_text(root / 'VOC2012' / 'ImageSets' / 'Main' / 'trainval.txt', 'a\nb\nc\n')
    splits = by_name(read_dataset(root))
    images = {name: sorted(boxes(split)) for name, split in splits.items()}
    assert images == {'train': ['a.jpg', 'c.jpg'], 'val': ['b.jpg']}


def test_voc_xml_and_images_in_the_same_folder(tmp_path):
    """One folder, and Roboflow's train/ + valid/ folders of XML + images as splits."""
    flat = tmp_path / 'flat'
    box = voc_pair(flat, flat, 'a', SQUARE, 'sea lion')
    assert detect_format(flat) == 'voc'
    (split,) = read_dataset(flat, split_name='all')
    assert split.name == 'all' and boxes(split) == {'a.jpg': [('sea lion', box)]}
    roboflow = tmp_path / 'roboflow'
    voc_pair(roboflow / 'train', roboflow / 'train', 't', SMALL, 'sea lion')
    voc_pair(roboflow / 'valid', roboflow / 'valid', 'v', SQUARE, 'koi')
    write_text(roboflow / 'README.roboflow.txt', 'exported\n')
    assert detect_format(roboflow) == 'voc'
    splits = by_name(read_dataset(roboflow))
    assert sorted(splits) == ['train', 'val'] and category_names(splits['val']) == ['koi', 'sea lion']
    assert list(boxes(splits['val'])) == ['v.jpg']


def test_voc_wrong_absolute_filename_falls_back_to_the_xml_name(tmp_path):
    root = tmp_path / 'voc'
    box = voc_pair(root / 'annotations', root / 'images', 'photo 1', SMALL, 'éléphant', ext='.png',
                   filename='/Users/someone/Desktop/IMG_0001.JPG')
    (split,) = read_dataset(root)
    assert boxes(split) == {'photo 1.png': [('éléphant', box)]}
    assert split.problems == {'image_by_xml_name': 1}
    assert '1 images found by XML file name' in split_summary(split)
    (root / 'images' / 'photo 1.png').rename(root / 'images' / 'other.png')
    with pytest.raises(DatasetFormatError, match=r"photo 1\.xml: <filename> '/Users.*must be a "
                                                 r'relative path'):
        read_dataset(root)


def test_voc_several_xml_folders_need_explicit_dirs(tmp_path):
    root = tmp_path / 'voc'
    voc_pair(root / 'xml v1', root / 'pictures', 'a', SMALL, 'koi')
    box = voc_pair(root / 'xml v2', root / 'pictures', 'a', SMALL, 'crab')
    assert detect_format(root) == 'voc'
    with pytest.raises(DatasetFormatError, match=r'several folders hold VOC XML: xml v1, xml v2.*'
                                                 r'--ann-dir'):
        read_dataset(root)
    (split,) = read_dataset(root, ann_dir='xml v2', img_dir=root / 'pictures')
    assert boxes(split) == {'a.jpg': [('crab', box)]}
    with pytest.raises(ValueError, match='read as voc: classes does not apply'):
        read_dataset(root, ann_dir='xml v2', classes=['crab'])


# ----------------------------------------------------------------------------- COCO

def write_coco(path: Path, images: list[tuple[str, tuple[int, int]]], names: list[str]) -> None:
    """A COCO json with one box ``[2, 3, 10, 12]`` of the last class on each image."""
    write_text(path, json.dumps({
        'info': {'description': 'export'},
        'categories': [{'id': i, 'name': n} for i, n in enumerate(names)],
        'images': [{'id': i, 'file_name': f, 'width': s[0], 'height': s[1]}
                   for i, (f, s) in enumerate(images)],
        'annotations': [{'id': i + 1, 'image_id': i, 'category_id': len(names) - 1,
                         'bbox': [2, 3, 10, 12], 'area': 120, 'iscrowd': 0}
                        for i in range(len(images))]}, ensure_ascii=False))


def test_coco_roboflow_split_folders(tmp_path):
    root = tmp_path / 'roboflow'
    for folder, size in (('train', SMALL), ('valid', SQUARE), ('test', SMALL)):
        write_image(root / folder / f'{folder}_0.jpg', size)
        write_coco(root / folder / '_annotations.coco.json', [(f'{folder}_0.jpg', size)], TWENTY)
    write_text(root / 'README.roboflow.txt', 'exported\n')
    assert detect_format(root) == 'coco'
    splits = by_name(read_dataset(root))
    assert sorted(splits) == ['test', 'train', 'val'] and category_names(splits['val']) == TWENTY
    assert boxes(splits['val']) == {'valid_0.jpg': [('鯉', [2, 3, 10, 12])]}


def test_coco_annotations_folder_with_images_beside(tmp_path):
    """``annotations/instances_<split>.json`` with the images in ``images/`` (CVAT, whose subset
    ``default`` is ``train``) or ``<split>/`` (COCO 2017)."""
    root = tmp_path / 'coco'
    write_image(root / 'images' / 'a.jpg', SQUARE)
    write_image(root / 'val2017' / 'b.jpg', SMALL)
    write_coco(root / 'annotations' / 'instances_default.json', [('a.jpg', SQUARE)], ONE_CLASS)
    write_coco(root / 'annotations' / 'instances_val2017.json', [('b.jpg', SMALL)], ONE_CLASS)
    assert detect_format(root) == 'coco'
    assert detect_format(root / 'annotations' / 'instances_default.json') == 'coco'
    splits = by_name(read_dataset(root))
    assert sorted(splits) == ['train', 'val2017']
    assert splits['train'].sources == {'images/train/a.jpg': root / 'images' / 'a.jpg'}
    assert splits['val2017'].sources == {'images/val2017/b.jpg': root / 'val2017' / 'b.jpg'}


# ----------------------------------------------------------------------------- detection

def test_detect_format_refuses_ambiguous_and_unknown(tmp_path):
    both = tmp_path / 'both'
    yolo_pair(both / 'images', both / 'labels', 'a', SMALL, f'0 {LINE_SMALL}')
    write_coco(both / 'train.json', [('images/a.jpg', SMALL)], ONE_CLASS)
    with pytest.raises(DatasetFormatError, match=r'looks like several formats \(yolo: images/ \+ '
                                                 r'labels/; coco: COCO json train\.json\).*'
                                                 r'--format yolo or --format coco'):
        detect_format(both)
    assert len(read_dataset(both, 'coco')) == 1  # the explicit format settles it
    unknown = tmp_path / 'photos'
    write_image(unknown / 'a.jpg')
    write_text(unknown / 'notes.json', '{"categories": [], "info": {}}')
    with pytest.raises(DatasetFormatError, match=r'holds: a\.jpg, notes\.json\).*--format'):
        detect_format(unknown)
    with pytest.raises(DatasetFormatError, match=r'a\.jpg: format detection: cannot tell'):
        detect_format(unknown / 'a.jpg')


def test_detect_label_studio_yolo_export(tmp_path):
    """Label Studio's YOLO export: classes.txt, notes.json (not COCO), images/, labels/."""
    root = tmp_path / 'ls'
    yolo_pair(root / 'images', root / 'labels', 'a', SMALL, f'1 {LINE_SMALL}')
    write_text(root / 'classes.txt', 'rainbow trout\néléphant\n')
    write_text(root / 'notes.json', json.dumps({'categories': [{'id': 0, 'name': 'rainbow trout'}],
                                                'info': {'year': 2024}}))
    assert detect_format(root) == 'yolo'
    (split,) = read_dataset(root)
    assert boxes(split) == {'a.jpg': [('éléphant', BOX_SMALL)]}


# ----------------------------------------------------------------------------- shipped samples, CLI

@pytest.mark.parametrize('name, fmt', [('fish4knowledge-mini', 'yolo'), ('raccoon-mini', 'voc')])
def test_shipped_samples_through_auto(name, fmt):
    src = REPO / 'data' / name
    assert detect_format(src) == fmt
    auto, explicit = read_dataset(src, 'auto'), read_dataset(src, fmt)
    assert [s.name for s in auto] == [s.name for s in explicit]
    assert [s.coco for s in auto] == [s.coco for s in explicit] and auto[0].coco['annotations']


def run_convert(*args) -> subprocess.CompletedProcess:
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join(filter(None, [str(REPO),
                                                                     os.environ.get('PYTHONPATH')]))}
    return subprocess.run([sys.executable, 'tools/convert_dataset.py', *map(str, args)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)


def test_cli_auto_with_classes_and_voc_dirs(tmp_path):
    yolo = tmp_path / 'yolo'
    yolo_pair(yolo / 'images', yolo / 'labels', 'a', SMALL, f'1 {LINE_SMALL}')
    result = run_convert(yolo, '--out', tmp_path / 'no-names')
    assert result.returncode != 0 and "--classes 'name0,name1,...'" in result.stderr
    assert not (tmp_path / 'no-names').exists()
    result = run_convert(yolo, '--out', tmp_path / 'out', '--classes', 'rainbow trout, éléphant')
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("train: 1 images (0 without boxes), 1 boxes, "
                                                    "1/2 classes {'rainbow trout': 0, 'éléphant': 1}")
    assert result.stdout.splitlines()[-1].startswith(f'Converted yolo {yolo} -> ')
    voc = tmp_path / 'voc'
    voc_pair(voc / 'xml', voc / 'jpg', 'a')
    result = run_convert(voc, '--out', tmp_path / 'voc-out', '--ann-dir', voc / 'xml',
                         '--img-dir', 'jpg')
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith(f'Converted voc {voc} -> ')
    assert (tmp_path / 'voc-out' / 'images' / 'train' / 'a.jpg').is_file()
