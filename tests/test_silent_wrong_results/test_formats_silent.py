"""Real exports the converter turned into a wrong dataset without a word; each case here used to.

- Labels are what the source says: categories listed out of id order swapped labels in mmdet, and a
  COCO ``area`` of -1 or 1e12 made pycocotools ignore a missed object (mAP 1.0 instead of 0.66).
- Every source record is accounted for: label files and images that do not pair, two folders for
  one split and two images for one output file are refused, in one message each; images without a
  label file are counted in the report.
- Every file read stays inside the dataset folder (class files, labels, yamls, XML, lists, jsons).
- A class name is one line of text: YAML's ``''``, ``null``, ``yes`` and control characters are
  refused with the file, the record and the fix.
"""
from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest
from helpers import write_image

import mmgen_det  # noqa: F401  (registers the package's pieces in mmdet's registries)
from mmgen_det.cli import convert_dataset as convert_dataset_cli
from mmgen_det.datasets import DatasetFormatError, convert_dataset, read_dataset
from mmgen_det.datasets.formats import split_summary
from mmgen_det.datasets.profile import coco_classes
from mmgen_det.utils.io import read_json

SMALL, LARGE = (64, 48), (300, 200)
LINE = '0 0.5 0.5 0.25 0.25'
SECRET = 'root:x:0:0:SECRET-LINE'


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding='utf-8')
    return path


def coco_export(root: Path, categories: list[dict], boxes: list[tuple]) -> Path:
    """``root/train.json`` over a 64x48 and a 300x200 image; ``boxes``: (image index, category id,
    bbox, area)."""
    images = []
    for i, size in enumerate((SMALL, LARGE)):
        write_image(root / f'img{i}.jpg', size, i)
        images.append({'id': i + 1, 'file_name': f'img{i}.jpg', 'width': size[0], 'height': size[1]})
    annotations = [{'id': k, 'image_id': image + 1, 'category_id': cat, 'bbox': bbox, 'area': area,
                    'iscrowd': 0} for k, (image, cat, bbox, area) in enumerate(boxes, start=1)]
    return write_text(root / 'train.json', json.dumps(
        {'images': images, 'annotations': annotations, 'categories': categories}))


def yolo_pair(images: Path, labels: Path | None, stem: str, seed: int, size=SMALL) -> None:
    """An image, and its one-box label file unless ``labels`` is None."""
    write_image(images / f'{stem}.jpg', size, seed)
    if labels is not None:
        write_text(labels / f'{stem}.txt', LINE + '\n')


def voc_xml(name: str = 'fish', filename: str = 'a.jpg') -> str:
    return (f'<annotation><filename>{filename}</filename><object><name>{name}</name><bndbox>'
            '<xmin>2</xmin><ymin>3</ymin><xmax>20</xmax><ymax>15</ymax></bndbox></object>'
            '</annotation>')


def voc_export(root: Path, stems=('a',)) -> Path:
    for i, stem in enumerate(stems):
        write_image(root / 'JPEGImages' / f'{stem}.jpg', SMALL, i)
        write_text(root / 'Annotations' / f'{stem}.xml', voc_xml(filename=f'{stem}.jpg'))
    return root


def refused(src: Path, *patterns: str, **kwargs) -> str:
    """``read_dataset(src)`` raises a DatasetFormatError matching every pattern; its message."""
    with pytest.raises(DatasetFormatError) as e:
        read_dataset(src, **kwargs)
    for pattern in patterns:
        assert re.search(pattern, str(e.value)), (pattern, str(e.value))
    return str(e.value)


# ----------------------------------------------------------------------------- 1. labels

@pytest.mark.parametrize('ids', [(2, 1), (9, 1, 5), (2, 0, 1)],
                         ids=['shuffled', 'gapped', 'zero-based'])
def test_mmdet_reads_each_box_as_the_class_the_source_named(tmp_path, ids):
    from mmdet.datasets import CocoDataset
    names = ['zebra', 'apple', 'mango'][:len(ids)]
    categories = [{'id': i, 'name': n} for i, n in zip(ids, names)]  # listed out of id order
    boxes = [(k % 2, cat, [4 + k, 5, 20, 16], 320) for k, cat in enumerate(ids)]
    out = tmp_path / 'out'
    convert_dataset(coco_export(tmp_path / 'src', categories, boxes), 'auto', out)
    classes = coco_classes(read_json(out / 'annotations' / 'train.json'))
    dataset = CocoDataset(data_root=str(out), ann_file='annotations/train.json',
                          data_prefix=dict(img=''), metainfo=dict(classes=tuple(classes)),
                          test_mode=True, pipeline=[])
    name_of = dict(zip(ids, names))
    expected = sorted((bbox[0], name_of[cat]) for _, cat, bbox, _ in boxes)
    got = sorted((round(inst['bbox'][0]), classes[inst['bbox_label']])
                 for i in range(len(dataset)) for inst in dataset.get_data_info(i)['instances'])
    assert got == expected


@pytest.mark.parametrize('area', [-1, 0, 1e12])
def test_a_bogus_area_does_not_score_a_missed_object_as_found(tmp_path, area):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    boxes = [(0, 1, [4, 5, 20, 16], 320), (1, 1, [30, 40, 60, 50], 3000),
             (1, 1, [150, 60, 80, 70], area)]  # the detector misses the last one
    out = tmp_path / 'out'
    (split,) = convert_dataset(coco_export(tmp_path / 'src', [{'id': 1, 'name': 'fish'}], boxes),
                               'auto', out)
    assert [a['area'] for a in split.coco['annotations']] == [320, 3000, 5600]
    assert split.problems == {'area_recomputed': 1}
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(out / 'annotations' / 'train.json'))
        found = gt.loadRes([{'image_id': image + 1, 'category_id': 1, 'bbox': bbox, 'score': 0.9}
                            for image, _, bbox, _ in boxes[:2]])
        evaluation = COCOeval(gt, found, 'bbox')
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    assert evaluation.stats[0] < 0.7


# ----------------------------------------------------------------------------- 2. accounting

def fish_export(root: Path, yaml: bool = True) -> Path:
    """A public fish dataset's YOLO layout: the training images in images/train_original/, their
    labels in labels/train/."""
    for k in range(4):
        yolo_pair(root / 'images' / 'train_original', root / 'labels' / 'train', f'f{k}', k)
    for k in range(2):
        yolo_pair(root / 'images' / 'val', root / 'labels' / 'val', f'v{k}', 10 + k, LARGE)
    if yaml:
        write_text(root / 'data.yaml', "train: images/train_original\nval: images/val\n"
                                       "names: ['fish']\n")
    else:
        write_text(root / 'classes.txt', 'fish\n')
    return root


@pytest.mark.parametrize('yaml', [True, False], ids=['yaml', 'folder'])
def test_a_label_folder_without_its_image_folder_is_refused(tmp_path, yaml):
    root = fish_export(tmp_path / 'fish', yaml)
    refused(root, re.escape(str(root / 'labels' / 'train')),
            re.escape(str(root / 'images' / 'train_original')), 'rename')


def test_label_files_without_an_image_are_listed_in_one_message(tmp_path):
    root = tmp_path / 'ds'
    for k in range(3):
        yolo_pair(root / 'images' / 'train', root / 'labels' / 'train', f'a{k}', k)
    for k in range(7):
        write_text(root / 'labels' / 'train' / f'ghost{k}.txt', LINE + '\n')
    write_text(root / 'classes.txt', 'fish\n')
    message = refused(root, r'7 label files have no image', 'ghost0.txt', 'ghost4.txt',
                      'and 2 more', 'delete the label files')
    assert 'ghost5.txt' not in message


@pytest.mark.parametrize('folders', [('images/val', 'images/valid'), ('val/images', 'valid/images')],
                         ids=['images-val-valid', 'val-valid-images'])
def test_two_image_folders_of_one_split_are_refused(tmp_path, folders):
    root = tmp_path / 'ds'
    yolo_pair(root / folders[0].replace('val', 'train'), None, 't', 0)
    for i, folder in enumerate(folders):
        yolo_pair(root / folder, root / folder.replace('images', 'labels'), f'v{i}', 1 + i)
    write_text(root / 'classes.txt', 'fish\n')
    refused(root, re.escape(str(root / folders[0])), re.escape(str(root / folders[1])), 'val')


def test_two_unlisted_image_folders_of_one_split_are_refused(tmp_path):
    root = tmp_path / 'ds'
    yolo_pair(root / 'train' / 'images', root / 'train' / 'labels', 't', 0)
    for i, folder in enumerate(('val', 'valid')):
        yolo_pair(root / folder / 'images', root / folder / 'labels', f'v{i}', 1 + i)
    write_text(root / 'data.yaml', "train: train/images\nnames: ['fish']\n")
    refused(root, re.escape(str(root / 'val' / 'images')), re.escape(str(root / 'valid' / 'images')))


def test_two_images_for_one_output_file_are_refused_naming_both(tmp_path):
    root = tmp_path / 'coco'
    write_image(root / 'x.jpg', SMALL, 0)
    write_image(root / 'images' / 'train' / 'x.jpg', SMALL, 1)
    write_text(root / 'train.json', json.dumps({
        'images': [{'id': 1, 'file_name': 'x.jpg'}, {'id': 2, 'file_name': 'images/train/x.jpg'}],
        'annotations': [], 'categories': [{'id': 1, 'name': 'fish'}]}))
    refused(root / 'train.json', re.escape(str(root / 'x.jpg')),
            re.escape(str(root / 'images' / 'train' / 'x.jpg')), 'images/train/x.jpg')


def test_labels_where_yolo_does_not_look_are_an_error_not_empty_images(tmp_path):
    root = tmp_path / 'ds'
    for k in range(3):
        yolo_pair(root / 'train' / 'imgs', root / 'train' / 'labels', f'a{k}', k)
    write_text(root / 'data.yaml', "train: train/imgs\nnames: ['fish']\n")
    refused(root, r'3 of 3 images', re.escape(str(root / 'train' / 'labels' / 'a0.txt')))


def test_images_without_a_label_file_are_counted_and_reported(tmp_path, capsys, monkeypatch):
    root = tmp_path / 'ds'
    for k in range(3):
        yolo_pair(root / 'images', root / 'labels' if k else None, f'a{k}', k)
    write_text(root / 'classes.txt', 'fish\n')
    out = tmp_path / 'out'
    monkeypatch.setattr('sys.argv', ['convert', str(root), '--out', str(out)])
    convert_dataset_cli.main()
    assert '1 images without a label file' in capsys.readouterr().out
    report = read_json(out / 'conversion_report.json')
    assert report['splits']['train']['problems'] == {'images_without_label_file': 1}


def test_voc_xml_without_images_in_one_message_and_images_without_xml_counted(tmp_path):
    root = voc_export(tmp_path / 'voc', ('a', 'b', 'c', 'd'))
    write_image(root / 'JPEGImages' / 'background.jpg', SMALL, 9)
    (split,) = read_dataset(root)
    assert split.problems == {'images_without_xml': 1}
    assert '1 images in the image folder that no XML names' in split_summary(split)
    for stem in 'bcd':
        (root / 'JPEGImages' / f'{stem}.jpg').unlink()
    refused(root, r'3 XML files', 'b.xml', 'c.xml', 'd.xml')


# ----------------------------------------------------------------------------- 8. outside the root

@pytest.fixture
def outside(tmp_path) -> Path:
    """Files outside the dataset folder, each with a line no message may echo."""
    folder = tmp_path / 'outside'
    write_text(folder / 'passwd', f'{SECRET}\nfish\n')
    write_text(folder / 'labels' / 'a.txt', f'{SECRET}\n')
    write_text(folder / 'data.yaml', f"train: images\nnames: ['{SECRET}']\n")
    write_text(folder / 'a.xml', voc_xml(SECRET))
    write_text(folder / 'x.xml', voc_xml('fish', 'x.jpg'))
    write_text(folder / 'train.json', '{"images": [' + SECRET)
    return folder


def yolo_flat(root: Path) -> Path:
    yolo_pair(root / 'images', root / 'labels', 'a', 0)
    write_text(root / 'classes.txt', 'fish\n')
    return root


def link(path: Path, target: Path) -> None:
    path.unlink(missing_ok=True)
    path.symlink_to(target)


def classes_file(root: Path, outside: Path) -> tuple[Path, dict]:
    link(yolo_flat(root) / 'classes.txt', outside / 'passwd')
    return root / 'classes.txt', {}


def label_file(root: Path, outside: Path) -> tuple[Path, dict]:
    link(yolo_flat(root) / 'labels' / 'a.txt', outside / 'labels' / 'a.txt')
    return root / 'labels' / 'a.txt', {}


def labels_folder(root: Path, outside: Path) -> tuple[Path, dict]:
    yolo_flat(root)
    (root / 'labels' / 'a.txt').unlink()
    (root / 'labels').rmdir()
    link(root / 'labels', outside / 'labels')
    return root / 'labels', {}


def yaml_file(root: Path, outside: Path) -> tuple[Path, dict]:
    yolo_flat(root)
    link(root / 'data.yaml', outside / 'data.yaml')
    return root / 'data.yaml', {}


def voc_xml_file(root: Path, outside: Path) -> tuple[Path, dict]:
    link(voc_export(root) / 'Annotations' / 'a.xml', outside / 'a.xml')
    return root / 'Annotations' / 'a.xml', {}


def voc_list_line(root: Path, outside: Path) -> tuple[Path, dict]:
    voc_export(root)
    write_image(root / 'JPEGImages' / 'x.jpg', SMALL, 5)
    write_text(root / 'ImageSets' / 'Main' / 'train.txt', 'a\n../../outside/x\n')
    return root / 'ImageSets' / 'Main' / 'train.txt', {}


def coco_json(root: Path, outside: Path) -> tuple[Path, dict]:
    write_image(root / 'a.jpg', SMALL, 0)
    link(root / 'train.json', outside / 'train.json')
    return root / 'train.json', {'fmt': 'coco'}


@pytest.mark.parametrize('make', [classes_file, label_file, labels_folder, yaml_file, voc_xml_file,
                                  voc_list_line, coco_json])
def test_files_outside_the_dataset_are_not_read(tmp_path, outside, make):
    root = tmp_path / 'ds'
    where, kwargs = make(root, outside)
    message = refused(root, re.escape(str(where)), 'outside the dataset folder',
                      'allow-outside-root', **kwargs)
    assert 'SECRET' not in message


# ----------------------------------------------------------------------------- 9. class names

@pytest.mark.parametrize('names, index, fix', [
    ("['', fish]", 0, 'write'), ('[fish, null]', 1, 'quote'), ('[fish, yes]', 1, "quote.*'yes'"),
    ('{0: fish, 1: off}', 1, 'quote'), (r'[fish, "a\tb"]', 1, 'remove'),
    (r'["cr\rlf", fish]', 0, 'remove')])
def test_yaml_names_that_are_not_one_line_of_text_are_refused(tmp_path, names, index, fix):
    root = tmp_path / 'ds'
    yolo_pair(root / 'images', root / 'labels', 'a', 0)
    write_text(root / 'data.yaml', f'train: images\nnames: {names}\n')
    refused(root, rf'data\.yaml: names\[{index}\]: class name', f'Fix: .*{fix}')


@pytest.mark.parametrize('text, line', [('fish\n\npike\n', 2), ('fish\nfi\tsh\n', 2),
                                        ('fish\npi\x1cke\n', 2), ('fish\r\npi\rke\n', 2)])
def test_classes_txt_names_that_are_not_one_line_of_text_are_refused(tmp_path, text, line):
    root = yolo_flat(tmp_path / 'ds')
    (root / 'classes.txt').write_bytes(text.encode())
    refused(root, rf'classes\.txt: line {line}: class name')


@pytest.mark.parametrize('name', ['', 'a\nb', 'a\rb'])
def test_coco_category_names_that_are_not_one_line_of_text_are_refused(tmp_path, name):
    path = coco_export(tmp_path / 'src', [{'id': 1, 'name': 'fish'}, {'id': 2, 'name': name}], [])
    refused(path, r'train\.json: categories\[1\]: class name')


def test_voc_names_with_control_characters_are_refused(tmp_path):
    root = voc_export(tmp_path / 'voc')
    write_text(root / 'Annotations' / 'a.xml', voc_xml('a&#10;b'))
    refused(root, r'a\.xml: object #1.*class name')


def test_classes_argument_with_control_characters_is_refused(tmp_path):
    root = yolo_flat(tmp_path / 'ds')
    with pytest.raises(DatasetFormatError, match=r'--classes.*class name'):
        read_dataset(root, classes=['fi\tsh'])
