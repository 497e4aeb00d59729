"""YOLO / VOC / COCO -> COCO conversion: counts and boxes against independent parses of the
sources, the full datasets when present, every bad-input error, and the fix-up policy."""
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image
from pycocotools.coco import COCO

from mmgen_det.datasets.formats import (DatasetFormatError, clip_bbox, convert_dataset, fix_bbox,
                                        parse_yolo_line, read_dataset, read_image_size,
                                        split_summary, write_dataset, yolo_to_coco_bbox)

REPO = Path(__file__).parents[2]
FISH_MINI = REPO / 'data' / 'fish4knowledge-mini'
RACCOON_MINI = REPO / 'data' / 'raccoon-mini'
SHARED = REPO / '..' / 'shared' / 'data'
FISH_NAMES = ['0', '1', '2', '5', '6', '7', '8']
YOLO_SPLITS = {'train': 'train', 'val': 'valid', 'test': 'test'}  # COCO split -> source folder


def label_lines(label_file: Path) -> list[list[str]]:
    return [line.split() for line in label_file.read_text().splitlines() if line.strip()]


def annotations_by_file(coco_json: Path) -> dict[str, list[tuple[str, list[float]]]]:
    """file name (basename) -> [(category name, bbox)], read back with pycocotools."""
    coco = COCO(str(coco_json))
    names = {c['id']: c['name'] for c in coco.loadCats(coco.getCatIds())}
    return {Path(img['file_name']).name: [(names[a['category_id']], a['bbox'])
                                          for a in coco.imgToAnns[img['id']]]
            for img in coco.dataset['images']}


def assert_boxes_equal(got: list, expected: list) -> None:
    assert len(got) == len(expected)
    for (name, box), (exp_name, exp_box) in zip(got, expected):  # both in file order
        assert name == exp_name
        assert box == pytest.approx(exp_box, abs=1e-6)


def assert_nothing_written(tmp_path: Path, out: Path) -> None:
    assert not out.exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith('.tmp-')]


def write_image(path: Path, size=(40, 20), mode='RGB', orientation: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new(mode, size, 128 if mode == 'L' else (90, 120, 150, 255)[:len(mode)])
    if orientation is None:
        image.save(path)
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        image.save(path, exif=exif)
    return path


def make_yolo(root: Path, labels: dict[str, str], names=("'a'", "'b'")) -> Path:
    """A YOLO dataset with one 40x20 JPEG per label stem in split ``train``."""
    (root / 'train' / 'labels').mkdir(parents=True)
    (root / 'data.yaml').write_text(f'train: ../train/images\nnames: [{", ".join(names)}]\n')
    for stem, text in labels.items():
        write_image(root / 'train' / 'images' / f'{stem}.jpg')
        (root / 'train' / 'labels' / f'{stem}.txt').write_text(text)
    return root


VOC_OBJECT = ('<object><name>{name}</name><bndbox><xmin>{0}</xmin><ymin>{1}</ymin>'
              '<xmax>{2}</xmax><ymax>{3}</ymax></bndbox></object>')


def make_voc(root: Path, boxes=((2, 3, 30, 15),), filename='img.jpg', size=(40, 20)) -> Path:
    """A VOC dataset with one 40x20 image and an XML that declares ``size`` and ``boxes``."""
    write_image(root / 'images' / 'img.jpg')
    objects = ''.join(VOC_OBJECT.format(*b, name='cat') for b in boxes)
    (root / 'annotations').mkdir(parents=True)
    (root / 'annotations' / 'img.xml').write_text(
        f'<annotation><filename>{filename}</filename><size><width>{size[0]}</width>'
        f'<height>{size[1]}</height><depth>3</depth></size>{objects}</annotation>')
    return root


def make_coco(root: Path, images=None, annotations=None) -> Path:
    write_image(root / 'img.jpg')
    coco = {'images': images or [{'id': 1, 'file_name': 'img.jpg', 'width': 40, 'height': 20}],
            'annotations': annotations or [{'id': 1, 'image_id': 1, 'category_id': 7,
                                            'bbox': [1, 2, 10, 5], 'area': 50, 'iscrowd': 0}],
            'categories': [{'id': 7, 'name': 'seven'}]}
    path = root / 'train.json'
    path.write_text(json.dumps(coco))
    return path


# ----------------------------------------------------------------------------- shipped samples

@pytest.fixture(scope='module')
def fish_out(tmp_path_factory):
    out = tmp_path_factory.mktemp('fish') / 'coco'
    convert_dataset(FISH_MINI, 'yolo', out)
    return out


@pytest.fixture(scope='module')
def raccoon_out(tmp_path_factory):
    out = tmp_path_factory.mktemp('raccoon') / 'coco'
    convert_dataset(RACCOON_MINI, 'voc', out, image_mode='symlink')
    return out


def test_fish_mini_counts_and_pycocotools(fish_out):
    for split, folder in YOLO_SPLITS.items():
        coco = COCO(str(fish_out / 'annotations' / f'{split}.json'))
        images = list((FISH_MINI / folder / 'images').iterdir())
        n_boxes = sum(len(label_lines(f)) for f in (FISH_MINI / folder / 'labels').glob('*.txt'))
        assert len(coco.getImgIds()) == len(images)
        assert len(coco.getAnnIds()) == n_boxes
        assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == FISH_NAMES
        for img in coco.dataset['images']:
            assert img['file_name'].startswith(f'images/{split}/')
            assert (fish_out / img['file_name']).is_file()
    assert sorted(p.name for p in (fish_out / 'images').iterdir()) == ['test', 'train', 'val']


def test_fish_mini_boxes_match_independent_parse(fish_out):
    for split, folder in YOLO_SPLITS.items():
        got = annotations_by_file(fish_out / 'annotations' / f'{split}.json')
        for image in (FISH_MINI / folder / 'images').iterdir():
            width, height = Image.open(image).size
            label = FISH_MINI / folder / 'labels' / f'{image.stem}.txt'
            expected = []
            for k, cx, cy, w, h in label_lines(label):
                cx, cy, w, h = float(cx) * width, float(cy) * height, float(w) * width, float(h) * height
                expected.append((FISH_NAMES[int(k)], [cx - w / 2, cy - h / 2, w, h]))
            assert_boxes_equal(got[image.name], expected)


def test_yolo_class_index_3_is_name_5(fish_out):
    label = next(f for f in sorted((FISH_MINI / 'train' / 'labels').glob('*.txt'))
                 if any(fields[0] == '3' for fields in label_lines(f)))
    got = annotations_by_file(fish_out / 'annotations' / 'train.json')
    image_name = next(n for n in got if Path(n).stem == label.stem)
    assert '5' in [name for name, _ in got[image_name]]


def test_raccoon_mini_counts_boxes_and_grayscale(raccoon_out):
    xmls = sorted((RACCOON_MINI / 'annotations').glob('*.xml'))
    expected = {}
    for xml in xmls:
        root = ET.parse(xml).getroot()
        expected[root.findtext('filename')] = [
            ('raccoon', [float(o.findtext('bndbox/xmin')), float(o.findtext('bndbox/ymin')),
                         float(o.findtext('bndbox/xmax')) - float(o.findtext('bndbox/xmin')),
                         float(o.findtext('bndbox/ymax')) - float(o.findtext('bndbox/ymin'))])
            for o in root.iter('object')]
    got = annotations_by_file(raccoon_out / 'annotations' / 'train.json')
    assert sorted(got) == sorted(expected)
    for name in expected:
        assert_boxes_equal(got[name], expected[name])
    grayscale = [p for p in (RACCOON_MINI / 'images').iterdir() if Image.open(p).mode == 'L']
    assert len(grayscale) == 3 and all(p.name in got for p in grayscale)
    assert (raccoon_out / 'images' / 'train' / grayscale[0].name).is_symlink()


# ----------------------------------------------------------------------------- full datasets

def shared_dataset(name: str) -> Path:
    path = SHARED / name
    if not path.is_dir():
        pytest.skip(f'full dataset {path} not present (only on the development/CI machines)')
    return path


def test_full_fish4knowledge_counts():
    splits = {s.name: s.coco for s in read_dataset(shared_dataset('fish4knowledge'), 'yolo')}
    assert {k: len(v['images']) for k, v in splits.items()} == {'train': 1315, 'val': 376,
                                                               'test': 188}
    assert sum(len(v['annotations']) for v in splits.values()) == 7720


def test_full_raccoon_counts_and_size_mismatches():
    root = shared_dataset('raccoon')
    (split,) = read_dataset(root, 'voc')
    assert len(split.coco['images']) == 200 and len(split.coco['annotations']) == 217
    mismatches = 0
    for xml in (root / 'annotations').glob('*.xml'):
        r = ET.parse(xml).getroot()
        size = (int(r.findtext('size/width')), int(r.findtext('size/height')))
        mismatches += size != Image.open(root / 'images' / r.findtext('filename')).size
    assert split.problems['size_mismatch'] == mismatches
    if mismatches:
        assert f'{mismatches} annotated image sizes differing' in split_summary(split)


# ----------------------------------------------------------------------------- pure helpers

def test_yolo_to_coco_bbox_is_exact():
    assert yolo_to_coco_bbox(0.5, 0.25, 0.5, 0.1, 360, 202) == pytest.approx([90, 40.4, 180, 20.2])
    assert yolo_to_coco_bbox(0.5, 0.5, 1, 1, 7, 3) == [0, 0, 7, 3]


def test_clip_bbox():
    assert clip_bbox([-5, 2, 20, 30], 40, 20) == [0, 2, 15, 18]
    assert clip_bbox([50, 2, 5, 5], 40, 20)[2] == 0  # wholly outside -> empty


@pytest.mark.parametrize('bbox, policy, expected', [
    ([1, 1, 5, 5], 'fail', ([1, 1, 5, 5], None)),
    ([-2, 1, 5, 5], 'clip', ([0, 1, 3, 5], 'clipped')),
    ([-2, 1, 5, 5], 'drop', (None, 'dropped_outside')),
    ([45, 1, 5, 5], 'clip', (None, 'dropped_empty')),
    ([3, 1, 0, 5], 'clip', (None, 'dropped_empty')),
    ([3, 1, 0, 5], 'drop', (None, 'dropped_empty')),
])
def test_fix_bbox_policies(bbox, policy, expected):
    assert fix_bbox(bbox, 40, 20, policy) == expected


def test_fix_bbox_fail_and_float_noise():
    with pytest.raises(DatasetFormatError, match='outside the image'):
        fix_bbox([-2, 1, 5, 5], 40, 20, 'fail')
    assert fix_bbox([0, 0, 40 + 1e-9, 20], 40, 20, 'fail')[1] is None


def test_parse_yolo_line():
    assert parse_yolo_line('3 0.5 0.5 0.25 1\n') == (3, [0.5, 0.5, 0.25, 1.0])
    assert parse_yolo_line('0 1.01 0.5 0.1 0.1')[1][0] == 1.01  # slightly out: fixed later
    index, box = parse_yolo_line('4 0.1 0.2 0.5 0.2 0.3 0.6')  # a segment: its polygon's box
    assert index == 4 and box == pytest.approx([0.3, 0.4, 0.4, 0.4])


# ----------------------------------------------------------------------------- bad input

YOLO_BAD = [
    ('0 0.5 0.5 0.2', 'expected 5 fields'),
    ('0 0.5 0.5 0.2 0.2 0.1', 'expected 5 fields'),
    ('0 0.1 0.1 0.5 0.1 0.5 0.5 0.1', 'or a polygon'),  # a segment needs whole x y pairs
    ('0 0.5 abc 0.2 0.2', 'not all numbers'),
    ('x 0.5 0.5 0.2 0.2', 'not an integer'),
    ('2 0.5 0.5 0.2 0.2', 'class index 2 is not in data.yaml names'),
    ('0 20 10 8 4', 'outside [0, 1]'),
]


@pytest.mark.parametrize('line, message', YOLO_BAD)
def test_yolo_bad_label_line(tmp_path, line, message):
    src = make_yolo(tmp_path / 'src', {'img': f'1 0.5 0.5 0.2 0.2\n{line}\n'})
    out = tmp_path / 'out'
    with pytest.raises(DatasetFormatError, match='line 2') as e:
        convert_dataset(src, 'yolo', out, on_invalid='clip')
    assert message in str(e.value) and 'img.txt' in str(e.value) and 'Fix:' in str(e.value)
    assert_nothing_written(tmp_path, out)


def test_yolo_slightly_outside_follows_policy(tmp_path):
    src = make_yolo(tmp_path / 'src', {'img': '0 0.99 0.5 0.1 0.2\n1 0.5 0.5 0 0.2\n'})
    (split,) = read_dataset(src, 'yolo', on_invalid='clip')
    assert split.problems == {'clipped': 1, 'dropped_empty': 1}
    assert split.coco['annotations'][0]['bbox'] == pytest.approx([37.6, 8, 2.4, 4])
    assert 'clipped to the image' in split_summary(split)
    (split,) = read_dataset(src, 'yolo', on_invalid='drop')
    assert split.coco['annotations'] == []
    out = tmp_path / 'out'
    with pytest.raises(DatasetFormatError, match=r'img\.txt: line 1: .*outside the image'):
        convert_dataset(src, 'yolo', out, on_invalid='fail')
    assert_nothing_written(tmp_path, out)


def test_yolo_orphan_label_and_corrupt_jpeg(tmp_path):
    src = make_yolo(tmp_path / 'src', {'a': '0 0.5 0.5 0.2 0.2\n', 'b': ''})
    (src / 'train' / 'labels' / 'ghost.txt').write_text('0 0.5 0.5 0.2 0.2\n')
    out = tmp_path / 'out'
    with pytest.raises(DatasetFormatError, match=r'1 label files have no image.*ghost\.txt'):
        convert_dataset(src, 'yolo', out)
    (src / 'train' / 'labels' / 'ghost.txt').unlink()
    jpeg = (src / 'train' / 'images' / 'b.jpg').read_bytes()
    (src / 'train' / 'images' / 'b.jpg').write_bytes(jpeg[:len(jpeg) // 2])
    with pytest.raises(DatasetFormatError, match=r'b\.jpg: image: .*cannot be decoded'):
        convert_dataset(src, 'yolo', out)
    assert_nothing_written(tmp_path, out)


def test_yolo_layouts_names_dict_and_missing_labels(tmp_path):
    """data.yaml given as a file, names as a dict, a foreign absolute path, an unlabelled image."""
    src = make_yolo(tmp_path / 'src', {'a': '1 0.5 0.5 0.2 0.2\n'})
    write_image(src / 'train' / 'images' / 'nolabel.png', mode='RGBA')
    write_image(src / 'train' / 'images' / 'gray.jpg', mode='L')
    (src / 'data.yaml').write_text('train: /elsewhere/train/images\nnames: {0: x, 1: "y"}\n')
    (split,) = read_dataset(src / 'data.yaml', 'yolo')
    assert [c['name'] for c in split.coco['categories']] == ['x', 'y']
    assert len(split.coco['images']) == 3 and len(split.coco['annotations']) == 1
    assert '(2 without boxes)' in split_summary(split)


def test_exif_rotated_jpeg_swaps_size(tmp_path):
    path = write_image(tmp_path / 'rot.jpg', size=(40, 20), orientation=6)
    assert read_image_size(path) == (20, 40)
    assert read_image_size(write_image(tmp_path / 'up.jpg', orientation=3)) == (40, 20)


def test_voc_malformed_xml(tmp_path):
    src = make_voc(tmp_path / 'src')
    (src / 'annotations' / 'img.xml').write_text('<annotation>\n<filename>img.jpg</filename>\n<oops>')
    out = tmp_path / 'out'
    with pytest.raises(DatasetFormatError, match=r'img\.xml: line 3, column .*malformed XML'):
        convert_dataset(src, 'voc', out)
    assert_nothing_written(tmp_path, out)


@pytest.mark.parametrize('box, policy, message', [
    ((30, 3, 30, 15), 'fail', 'has no area'),
    ((30, 3, 10, 15), 'fail', 'has no area'),
    ((2, 3, 45, 15), 'fail', 'extends outside the image'),
    ((2, 3, 30, 'big'), 'clip', "<bndbox/ymax> is 'big', not a number"),
])
def test_voc_bad_boxes(tmp_path, box, policy, message):
    src = make_voc(tmp_path / 'src', boxes=[(2, 3, 30, 15), box])
    out = tmp_path / 'out'
    with pytest.raises(DatasetFormatError, match=r"img\.xml: object #2 \('cat'\)") as e:
        convert_dataset(src, 'voc', out, on_invalid=policy)
    assert message in str(e.value)
    assert_nothing_written(tmp_path, out)


def test_voc_fixable_boxes_and_size_mismatch_are_counted(tmp_path):
    src = make_voc(tmp_path / 'src', boxes=[(2, 3, 30, 15), (30, 3, 10, 15), (2, 3, 45, 15)],
                   size=(400, 200))
    (split,) = read_dataset(src, 'voc')
    assert split.problems == {'dropped_empty': 1, 'clipped': 1, 'size_mismatch': 1}
    assert (split.coco['images'][0]['width'], split.coco['images'][0]['height']) == (40, 20)
    assert [a['bbox'] for a in split.coco['annotations']] == [[2, 3, 28, 12], [2, 3, 38, 12]]
    assert '1 annotated image sizes differing from the file' in split_summary(split)


@pytest.mark.parametrize('filename, message', [
    ('missing.jpg', 'does not exist'),
    ('../escape.jpg', 'escapes the data root'),
    ('/etc/passwd', 'must be a relative path'),
    ('notanimage.jpg', 'cannot be decoded'),
])
def test_voc_bad_image_reference(tmp_path, filename, message):
    """An unusable <filename> and no image named like the XML (img.*) to fall back on."""
    src = make_voc(tmp_path / 'src', filename=filename)
    (src / 'images' / 'img.jpg').rename(src / 'images' / 'photo.jpg')
    (src / 'images' / 'notanimage.jpg').write_text('not a jpeg')
    (tmp_path / 'escape.jpg').write_bytes((src / 'images' / 'photo.jpg').read_bytes())
    out = tmp_path / 'out'
    with pytest.raises(DatasetFormatError, match=rf'img\.xml: <filename> .*{message}'):
        convert_dataset(src, 'voc', out)
    assert_nothing_written(tmp_path, out)


def test_coco_malformed_json(tmp_path):
    path = make_coco(tmp_path / 'src')
    path.write_text('{"images": [\n  {"id": 1,}\n]}')
    with pytest.raises(DatasetFormatError, match=r'train\.json: malformed JSON at line 2'):
        convert_dataset(path, 'coco', tmp_path / 'out')
    assert_nothing_written(tmp_path, tmp_path / 'out')


@pytest.mark.parametrize('images, annotations, message', [
    ([{'id': 1, 'file_name': 'img.jpg'}, {'id': 1, 'file_name': 'img.jpg'}], None,
     r'images\[1\]: id 1 is used twice'),
    (None, [{'id': 4, 'image_id': 9, 'category_id': 7, 'bbox': [1, 2, 3, 4]}],
     'annotation id 4: image_id 9 is not in "images"'),
    (None, [{'id': 4, 'image_id': 1, 'category_id': 3, 'bbox': [1, 2, 3, 4]}],
     'annotation id 4: category_id 3 is not in "categories"'),
    ([{'id': 1, 'file_name': '../img.jpg'}], None, 'image id 1: .*escapes the data root'),
    ([{'id': 1, 'file_name': 'nope.jpg'}], None, 'image id 1: .*does not exist'),
])
def test_coco_bad_input(tmp_path, images, annotations, message):
    path = make_coco(tmp_path / 'src', images, annotations)
    out = tmp_path / 'out'
    with pytest.raises(DatasetFormatError, match=rf'train\.json: {message}'):
        convert_dataset(path, 'coco', out)
    assert_nothing_written(tmp_path, out)


def test_coco_pass_through_keeps_ids_and_names(tmp_path):
    path = make_coco(tmp_path / 'src', images=[{'id': 42, 'file_name': 'img.jpg', 'width': 40,
                                                'height': 20, 'license': 3}],
                     annotations=[{'id': 9, 'image_id': 42, 'category_id': 7,
                                   'bbox': [1, 2, 10, 5], 'area': 50.0}])
    out = tmp_path / 'out'
    (split,) = convert_dataset(path.parent, 'coco', out)
    coco = json.loads((out / 'annotations' / 'train.json').read_text())
    assert coco['categories'] == [{'id': 7, 'name': 'seven'}]
    assert coco['images'] == [{'id': 42, 'file_name': 'images/train/img.jpg', 'width': 40,
                               'height': 20, 'license': 3}]
    assert coco['annotations'] == [{'id': 9, 'image_id': 42, 'category_id': 7,
                                    'bbox': [1, 2, 10, 5], 'area': 50.0, 'iscrowd': 0}]
    assert (out / 'images' / 'train' / 'img.jpg').is_file() and not split.problems
    (again,) = convert_dataset(out / 'annotations' / 'train.json', 'coco', tmp_path / 'again')
    assert again.coco == coco  # converting the output again changes nothing


def test_existing_output_refused_unless_overwrite(tmp_path):
    """Only the converter's own output is replaced (a foreign folder: tests/test_faults/
    test_hostile_datasets.py)."""
    src = make_voc(tmp_path / 'src')
    out = tmp_path / 'out'
    convert_dataset(src, 'voc', out)
    (out / 'annotations' / 'stale.json').write_text('{}')
    with pytest.raises(FileExistsError, match='--overwrite'):
        convert_dataset(src, 'voc', out)
    assert (out / 'annotations' / 'stale.json').is_file()
    convert_dataset(src, 'voc', out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ['annotations', 'conversion_report.json', 'images']
    assert sorted(p.name for p in (out / 'annotations').iterdir()) == ['train.json']
    assert not [p for p in tmp_path.iterdir() if p.name.startswith('.tmp-')]


def test_failure_while_writing_leaves_nothing(tmp_path):
    src = make_voc(tmp_path / 'src')
    splits = read_dataset(src, 'voc')
    (src / 'images' / 'img.jpg').unlink()  # vanishes between the read and the copy
    out = tmp_path / 'out'
    with pytest.raises(FileNotFoundError):
        write_dataset(splits, out)
    assert_nothing_written(tmp_path, out)
