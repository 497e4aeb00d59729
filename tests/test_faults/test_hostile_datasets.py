"""Hostile and messy input: datasets built here (YOLO and VOC layouts, COCO where only it can hold the
case) that the converter used to read wrongly, and output folders that conversion or generation used
to delete or mix files in.

Each case checks the error names the file (and says the fix), or that what was tolerated (a path
fallback, an image only PIL objects to, a skipped image) is printed and recorded in
``conversion_report.json``; and that no file outside the output folder changed (a refused run
changes nothing at all). Covered elsewhere: ``../`` and absolute COCO / VOC file names
(tests/test_datasets/test_formats.py), replacing the converter's own output (same file).
"""
from __future__ import annotations

import io
import json
import os
import re
import struct
import sys
import zlib
from pathlib import Path
from typing import Callable

import cv2
import mmcv
import numpy as np
import pytest
from PIL import Image

from mmgen_det.cli import convert_dataset as convert_dataset_cli
from mmgen_det.cli import generate as generate_cli
from mmgen_det.datasets import DatasetFormatError, convert_dataset
from mmgen_det.generation import generate_synthetic_set
from mmgen_det.generation.writer import ForeignFolderError

REPORT = 'conversion_report.json'
NAMES = ('trout', 'pike')
YOLO_LABEL = '0 0.5 0.5 0.25 0.25\n1 0.3 0.3 0.1 0.1\n'  # two boxes per image
VOC_OBJECTS = ''.join(f'<object><name>{name}</name><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin>'
                      f'<xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>'
                      for name, (x1, y1, x2, y2) in zip(NAMES, [(2, 3, 20, 15), (10, 5, 40, 30)]))


# ----------------------------------------------------------------------------- files and trees

def snapshot(root: Path, exclude: Path | None = None) -> dict[str, tuple]:
    """Every file and link under ``root`` but ``exclude``: path -> (size, mtime, link target)."""
    found = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if Path(folder) / d != exclude]
        for name in names:
            path = Path(folder) / name
            stat = os.lstat(path)
            found[path.relative_to(root).as_posix()] = (
                stat.st_size, stat.st_mtime_ns, os.readlink(path) if path.is_symlink() else None)
    return found


def image_bytes(seed: int, fmt: str = 'JPEG', size=(48, 32)) -> bytes:
    """A noise image: no two seeds give the same bytes (splits sharing content are refused)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, fmt)
    return buf.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))


def bomb_png_header() -> bytes:
    """A PNG whose header says 20000x20000 RGB (1.2 GB decoded), in 60 bytes: no pixel allocated."""
    return (b'\x89PNG\r\n\x1a\n' + png_chunk(b'IHDR', struct.pack('>IIBBBBB', 20000, 20000, 8, 2, 0, 0, 0))
            + png_chunk(b'IDAT', zlib.compress(b'')) + png_chunk(b'IEND', b''))


def png_with_bad_text_crc() -> bytes:
    """A valid PNG plus a text chunk with a wrong checksum: PIL refuses it, OpenCV (libpng) warns and
    decodes it."""
    png = image_bytes(1, 'PNG')
    end = png.index(b'IHDR') + 4 + 13 + 4
    text = png_chunk(b'tEXt', b'Comment\x00exported')
    return png[:end] + text[:-1] + bytes([text[-1] ^ 0xFF]) + png[end:]


def truncated_jpeg() -> bytes:
    return image_bytes(1)[:-100]


def png_without_end() -> bytes:
    """The IEND chunk cut off: PIL reads it, OpenCV (which training uses) does not."""
    return image_bytes(1, 'PNG')[:-12]


def training_decodes(data: bytes) -> bool:
    """What mmdet's LoadImageFromFile gets: mmcv.imfrombytes, i.e. cv2.imdecode."""
    return mmcv.imfrombytes(data) is not None


def pil_decodes(data: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
    except (OSError, SyntaxError, ValueError):
        return False
    return True


# ----------------------------------------------------------------------------- datasets

def yolo_split(root: Path, folder: str, images: dict[str, bytes], label: str = YOLO_LABEL) -> None:
    """``root/folder/images/<name>`` with ``labels/<stem>.txt`` beside them (Roboflow's layout)."""
    for name, data in images.items():
        (root / folder / 'images').mkdir(parents=True, exist_ok=True)
        (root / folder / 'labels').mkdir(parents=True, exist_ok=True)
        (root / folder / 'images' / name).write_bytes(data)
        (root / folder / 'labels' / f'{Path(name).stem}.txt').write_text(label)


def make_yolo(root: Path, images: dict[str, bytes], yaml: str | None = None) -> Path:
    """One split ``train`` of ``images`` (two boxes each) and its data.yaml."""
    yolo_split(root, 'train', images)
    (root / 'data.yaml').write_text(yaml or f'train: train/images\nnames: {list(NAMES)}\n')
    return root


def make_voc(root: Path, images: dict[str, bytes]) -> Path:
    """``Annotations/`` + ``JPEGImages/``: one XML with two objects per image."""
    (root / 'Annotations').mkdir(parents=True)
    (root / 'JPEGImages').mkdir()
    for name, data in images.items():
        (root / 'JPEGImages' / name).write_bytes(data)
        (root / 'Annotations' / f'{Path(name).stem}.xml').write_text(
            f'<annotation><filename>{name}</filename>{VOC_OBJECTS}</annotation>')
    return root


def make(layout: str, root: Path, images: dict[str, bytes]) -> Path:
    return (make_yolo if layout == 'yolo' else make_voc)(root, images)


def report(out: Path) -> dict:
    return json.loads((out / REPORT).read_text())


def assert_refused(tmp_path: Path, convert: Callable[[], object], error: type[Exception],
                   *patterns: str) -> str:
    """``convert()`` raises ``error`` matching every pattern, and no file anywhere changed."""
    before = snapshot(tmp_path)
    with pytest.raises(error) as e:
        convert()
    for pattern in patterns:
        assert re.search(pattern, str(e.value)), (pattern, str(e.value))
    assert snapshot(tmp_path) == before
    return str(e.value)


def converted(tmp_path: Path, src: Path, **kwargs) -> tuple[Path, dict]:
    """Convert ``src`` to ``tmp_path/out``; nothing outside it changes. Returns it and its report."""
    out = tmp_path / 'out'
    before = snapshot(tmp_path, exclude=out)
    convert_dataset(src, 'auto', out, **kwargs)
    assert snapshot(tmp_path, exclude=out) == before
    return out, report(out)


# ----------------------------------------------------------------------------- images

@pytest.mark.parametrize('layout', ['yolo', 'voc'])
def test_image_only_pil_refuses_is_kept_with_a_warning(tmp_path, layout, capsys):
    data = png_with_bad_text_crc()
    assert training_decodes(data) and not pil_decodes(data)
    src = make(layout, tmp_path / 'src', {'a.jpg': image_bytes(0), 'b.png': data})
    out, rep = converted(tmp_path, src)
    (split,) = rep['splits'].values()
    assert (split['images'], split['boxes']) == (2, 4)
    assert split['problems'] == {'decoded_with_warning': 1}
    b = str(src / ('train/images' if layout == 'yolo' else 'JPEGImages') / 'b.png')
    assert list(split['image_notes']) == [b] and 'PIL refuses it' in split['image_notes'][b]
    assert f'{b}: kept: OpenCV, which training uses, decodes it' in capsys.readouterr().err
    coco = json.loads((out / 'annotations' / 'train.json').read_text())
    assert [(im['width'], im['height']) for im in coco['images']] == [(48, 32), (48, 32)]


@pytest.mark.parametrize('layout', ['yolo', 'voc'])
@pytest.mark.parametrize('bad', [truncated_jpeg, png_without_end, lambda: b'not an image' * 20],
                         ids=['truncated-jpeg', 'png-without-end', 'garbage'])
def test_image_training_cannot_decode_fails_naming_it_or_is_skipped_with_its_boxes(tmp_path, layout, bad):
    """Judged by what training gets: cv2.imread decodes a truncated JPEG with a warning, but mmdet
    reads the bytes and decodes them with cv2.imdecode, which (opencv-python 4.11 here) refuses them. A
    build whose cv2.imdecode reads it must see it kept, with a warning."""
    data = bad()
    name = 'b.png' if data.startswith(b'\x89PNG') else 'b.jpg'
    src = make(layout, tmp_path / 'src', {'a.jpg': image_bytes(0), name: data})
    if bad is truncated_jpeg:
        assert cv2.imread(str(next(src.rglob(name)))) is not None  # OpenCV's file reader copes
    if bad is png_without_end:
        assert pil_decodes(data)  # the old check, with PIL, let it through to training
    if training_decodes(data):
        _, rep = converted(tmp_path, src)
        assert rep['splits']['train']['problems'] == {'decoded_with_warning': 1}
        return
    assert_refused(tmp_path, lambda: convert_dataset(src, 'auto', tmp_path / 'out'), DatasetFormatError,
                   re.escape(name), 'cannot be decoded', 'OpenCV, which training uses', '--on-bad-image skip')
    out, rep = converted(tmp_path, src, on_bad_image='skip')
    split = rep['splits']['train']
    assert (split['images'], split['boxes']) == (1, 2)
    assert split['problems'] == {'bad_image_skipped': 1, 'boxes_of_skipped_images': 2}
    assert [k for k, v in split['image_notes'].items() if v.startswith('skipped: ')] == \
        [str(next(src.rglob(name)))]
    assert rep['options']['on_bad_image'] == 'skip'
    assert sorted(p.name for p in (out / 'images' / 'train').iterdir()) == ['a.jpg']


@pytest.mark.parametrize('layout', ['yolo', 'voc'])
def test_decompression_bomb_header_is_refused_naming_the_file(tmp_path, layout):
    src = make(layout, tmp_path / 'src', {'a.jpg': image_bytes(0), 'big.png': bomb_png_header()})
    for policy in ('fail', 'skip'):  # not an undecodable image: skipping does not hide it
        assert_refused(tmp_path, lambda: convert_dataset(src, 'auto', tmp_path / 'out', on_bad_image=policy),
                       DatasetFormatError, r'big\.png', 'decompression-bomb limit', '400000000 pixels',
                       'Fix: downscale')


# ----------------------------------------------------------------------------- text files

def latin1_yaml(root: Path) -> Path:
    make_yolo(root, {'a.jpg': image_bytes(0)})
    (root / 'data.yaml').write_bytes('train: train/images\nnames: [truite, éperlan]\n'.encode('latin-1'))
    return root / 'data.yaml'


def latin1_label(root: Path) -> Path:
    make_yolo(root, {'a.jpg': image_bytes(0)})
    label = root / 'train' / 'labels' / 'a.txt'
    label.write_bytes(b'0 0.5 0.5 0.25 0.25\n# v\xe9rifi\xe9\n')
    return label


def latin1_classes(root: Path) -> Path:
    yolo_split(root, '.', {'a.jpg': image_bytes(0)})
    (root / 'classes.txt').write_bytes('truite\néperlan\n'.encode('latin-1'))
    return root / 'classes.txt'


def latin1_voc_xml(root: Path) -> Path:
    make_voc(root, {'a.jpg': image_bytes(0)})
    xml = root / 'Annotations' / 'a.xml'
    xml.write_bytes(xml.read_bytes().replace(b'trout', 'éperlan'.encode('latin-1')))
    return xml


@pytest.mark.parametrize('make_file, line', [(latin1_yaml, 2), (latin1_label, 2), (latin1_classes, 2),
                                             (latin1_voc_xml, 1)],
                         ids=['yolo-yaml', 'yolo-label', 'yolo-classes', 'voc-xml'])
def test_latin1_text_file_is_refused_naming_it_and_the_encoding(tmp_path, make_file, line):
    bad = make_file(tmp_path / 'src')
    assert_refused(tmp_path, lambda: convert_dataset(tmp_path / 'src', 'auto', tmp_path / 'out'),
                   DatasetFormatError, rf'^{re.escape(str(bad))}: line {line}: not UTF-8 text: byte 0xe9',
                   'Latin-1', 'Fix: save it as UTF-8, e.g. iconv -f latin1 -t utf-8')


def duplicate_in_yaml(root: Path) -> tuple[Path, str]:
    make_yolo(root, {'a.jpg': image_bytes(0)}, yaml="train: train/images\nnames: [trout, pike, trout]\n")
    return root / 'data.yaml', r"'trout' \(indices \[0, 2\]\)"


def duplicate_in_classes_file(root: Path) -> tuple[Path, str]:
    yolo_split(root, '.', {'a.jpg': image_bytes(0)})
    (root / 'classes.txt').write_text('trout\npike\n trout \n')
    return root / 'classes.txt', r"'trout' \(indices \[0, 2\]\)"


def duplicate_in_coco(root: Path) -> tuple[Path, str]:
    root.mkdir()
    (root / 'a.jpg').write_bytes(image_bytes(0))
    (root / 'train.json').write_text(json.dumps({
        'images': [{'id': 1, 'file_name': 'a.jpg'}], 'annotations': [],
        'categories': [{'id': 1, 'name': 'trout'}, {'id': 2, 'name': 'pike'}, {'id': 3, 'name': 'trout'}]}))
    return root / 'train.json', r"'trout' \(ids \[1, 3\]\)"


@pytest.mark.parametrize('make_file', [duplicate_in_yaml, duplicate_in_classes_file, duplicate_in_coco],
                         ids=['yolo-yaml', 'yolo-classes', 'coco'])
def test_duplicate_class_names_are_refused_naming_them(tmp_path, make_file):
    bad, names = make_file(tmp_path / 'src')
    assert_refused(tmp_path, lambda: convert_dataset(tmp_path / 'src', 'auto', tmp_path / 'out'),
                   DatasetFormatError, rf'^{re.escape(str(bad))}: .*class names given more than once: {names}')


def test_duplicate_class_names_given_on_the_command_line_are_refused(tmp_path):
    yolo_split(tmp_path / 'src', '.', {'a.jpg': image_bytes(0)})
    assert_refused(tmp_path, lambda: convert_dataset(tmp_path / 'src', 'yolo', tmp_path / 'out',
                                                     classes=['trout', 'trout']),
                   DatasetFormatError, r"^--classes: class names given more than once: 'trout'")


# ----------------------------------------------------------------------------- splits

def test_missing_val_path_falls_back_printed_and_recorded(tmp_path, capsys):
    src = tmp_path / 'src'
    yolo_split(src, 'train', {'a.jpg': image_bytes(0)})
    yolo_split(src, 'valid', {'b.jpg': image_bytes(1)})
    (src / 'data.yaml').write_text(f'train: train/images\nval: C:\\Users\\someone\\fish\\valid\\images\n'
                                   f'names: {list(NAMES)}\n')
    _, rep = converted(tmp_path, src)
    note = (r"data.yaml: val: C:\Users\someone\fish\valid\images does not exist here; used "
            f"{src / 'valid' / 'images'} (its last 2 path parts)")
    assert rep['splits']['val']['fallbacks'] == [note]
    assert rep['splits']['val']['problems'] == {'path_fallback': 1}
    assert rep['splits']['train']['fallbacks'] == []
    assert f'warning: val: {note}' in capsys.readouterr().err


def flat_export_val_falls_back_to_train(root: Path) -> str:
    """A flat export (images/ + labels/) whose yaml names another machine's val folder: its last
    part, ``images``, is the training folder."""
    yolo_split(root, '.', {f'{i}.jpg': image_bytes(i) for i in range(7)})
    (root / 'data.yaml').write_text(f'train: images\nval: /data/exports/fish/val/images\nnames: {list(NAMES)}\n')
    return (r'^.*src: splits: 7 images are in more than one split .*0\.jpg \(train\) = .*0\.jpg \(val\); '
            r'.* and 2 more; paths found by a fallback: val: data\.yaml: val: .*its last path part alone')


def same_content_in_two_splits(root: Path) -> str:
    yolo_split(root, 'train', {'a.jpg': image_bytes(0), 'b.jpg': image_bytes(1)})
    yolo_split(root, 'valid', {'copy of b.jpg': image_bytes(1)})
    (root / 'data.yaml').write_text(f'train: train/images\nval: valid/images\nnames: {list(NAMES)}\n')
    return r'1 images are in more than one split .*train/images/b\.jpg \(train\) = .*valid/images/copy of b\.jpg'


def voc_image_sets_share_an_id(root: Path) -> str:
    make_voc(root, {'a.jpg': image_bytes(0), 'b.jpg': image_bytes(1)})
    (root / 'ImageSets' / 'Main').mkdir(parents=True)
    (root / 'ImageSets' / 'Main' / 'train.txt').write_text('a\nb\n')
    (root / 'ImageSets' / 'Main' / 'val.txt').write_text('b\n')
    return r'1 images are in more than one split .*JPEGImages/b\.jpg \(train\) = .*JPEGImages/b\.jpg \(val\)'


@pytest.mark.parametrize('make_dataset', [flat_export_val_falls_back_to_train, same_content_in_two_splits,
                                          voc_image_sets_share_an_id],
                         ids=['yolo-val-fallback-to-train', 'yolo-same-content', 'voc-same-file'])
def test_overlapping_splits_are_refused_listing_the_images(tmp_path, make_dataset):
    message = make_dataset(tmp_path / 'src')
    assert_refused(tmp_path, lambda: convert_dataset(tmp_path / 'src', 'auto', tmp_path / 'out'),
                   DatasetFormatError, message, 'Fix: make the splits disjoint')


# ----------------------------------------------------------------------------- paths leaving the dataset

def yolo_yaml_dotdot(root: Path, outside: Path) -> tuple[Path, str]:
    make_yolo(root, {'a.jpg': image_bytes(0)}, yaml=f'train: train/images\nval: ../outside/images\n'
                                                    f'names: {list(NAMES)}\n')
    return root / 'data.yaml', f'val: ../outside/images: {re.escape(str(root / "../outside/images"))} is outside'


def yolo_list_absolute(root: Path, outside: Path) -> tuple[Path, str]:
    make_yolo(root, {'a.jpg': image_bytes(0)}, yaml=f'train: train/images\nval: val.txt\nnames: {list(NAMES)}\n')
    (root / 'val.txt').write_text(f'{outside / "images" / "x.jpg"}\n')
    return root / 'val.txt', f'line 1: {re.escape(str(outside / "images" / "x.jpg"))} is outside'


def yolo_symlink(root: Path, outside: Path) -> tuple[Path, str]:
    make_yolo(root, {'a.jpg': image_bytes(0)})
    (root / 'train' / 'images' / 'b.jpg').symlink_to(outside / 'images' / 'x.jpg')
    link = root / 'train' / 'images' / 'b.jpg'
    target = re.escape(str(outside.resolve() / 'images' / 'x.jpg'))
    return link, f'image: {re.escape(str(link))} \\(it leads to {target}\\) is outside'


def voc_symlink(root: Path, outside: Path) -> tuple[Path, str]:
    make_voc(root, {'a.jpg': image_bytes(0), 'b.jpg': b''})
    link = root / 'JPEGImages' / 'b.jpg'
    link.unlink()
    link.symlink_to(outside / 'images' / 'x.jpg')
    return root / 'Annotations' / 'b.xml', f"<filename> 'b.jpg': {re.escape(str(link))} \\(it leads to"


@pytest.mark.parametrize('make_dataset', [yolo_yaml_dotdot, yolo_list_absolute, yolo_symlink, voc_symlink],
                         ids=['yolo-yaml-dotdot', 'yolo-list-absolute', 'yolo-symlink', 'voc-symlink'])
def test_paths_outside_the_dataset_are_refused_unless_allowed(tmp_path, make_dataset):
    outside = tmp_path / 'outside'
    (outside / 'images').mkdir(parents=True)
    (outside / 'images' / 'x.jpg').write_bytes(image_bytes(5))
    file, message = make_dataset(tmp_path / 'src', outside)
    assert_refused(tmp_path, lambda: convert_dataset(tmp_path / 'src', 'auto', tmp_path / 'out'),
                   DatasetFormatError, rf'^{re.escape(str(file))}: {message}',
                   rf'outside the dataset folder {re.escape(str((tmp_path / "src").resolve()))}',
                   'pass --allow-outside-root')
    _, rep = converted(tmp_path, tmp_path / 'src', allow_outside_root=True)
    assert sum(s['images'] for s in rep['splits'].values()) == 2
    assert rep['options']['allow_outside_root'] is True


# ----------------------------------------------------------------------------- output folders

def foreign_folder(root: Path) -> Path:
    """Someone's folder that looks like a converted dataset or a set: annotations, images, notes."""
    (root / 'images' / 'train').mkdir(parents=True)
    (root / 'images' / 'holiday.jpg').write_bytes(image_bytes(7))
    (root / 'images' / 'train' / 'x.jpg').write_bytes(image_bytes(8))
    (root / 'annotations').mkdir()
    (root / 'annotations' / 'train.json').write_text('{"images": [], "annotations": [], "categories": []}')
    (root / 'notes.txt').write_text('do not delete\n')
    return root


def test_convert_overwrite_refuses_a_folder_it_did_not_write(tmp_path, monkeypatch):
    src = make_yolo(tmp_path / 'src', {'a.jpg': image_bytes(0)})
    out = foreign_folder(tmp_path / 'out')
    tool = convert_dataset_cli
    monkeypatch.setattr(sys, 'argv', ['convert_dataset.py', str(src), '--out', str(out), '--overwrite'])
    message = assert_refused(tmp_path, tool.main, SystemExit,
                             rf'{re.escape(str(out))} was not written by the converter \(it holds no {REPORT}\)',
                             'choose another --out')
    assert message.startswith('error: ')  # on its own line: the console ends any progress line first


def test_convert_cli_skips_bad_images_and_reports_them(tmp_path, monkeypatch, capsys):
    src = make_yolo(tmp_path / 'src', {'a.jpg': image_bytes(0), 'b.jpg': b'not an image'})
    out = tmp_path / 'out'
    before = snapshot(tmp_path, exclude=out)
    monkeypatch.setattr(sys, 'argv', ['convert_dataset.py', str(src), '--out', str(out),
                                      '--on-bad-image', 'skip'])
    convert_dataset_cli.main()
    printed = capsys.readouterr()
    assert '1 undecodable images skipped (--on-bad-image skip), 2 boxes left out' in printed.out
    assert f'see {out / REPORT}' in printed.out
    assert f"warning: train: {src / 'train' / 'images' / 'b.jpg'}: skipped: image" in printed.err
    assert report(out)['splits']['train']['problems'] == {'bad_image_skipped': 1, 'boxes_of_skipped_images': 2}
    assert snapshot(tmp_path, exclude=out) == before


def copy_paste_generation(fish_coco: Path, out: Path, num_images: int) -> dict:
    ann = str(fish_coco / 'annotations' / 'train.json')
    return dict(out_dir=str(out), num_images=num_images, seed=0, batch_size=2, image_format='png',
                layout=dict(ann_file=ann, strategy='jitter', width=120, height=64, min_box_cells=0.5),
                generator=dict(type='copy_paste', ann_file=ann, img_root=str(fish_coco)))


def test_generate_refuses_a_foreign_out_folder(tmp_path, fish_coco):
    generation = copy_paste_generation(fish_coco, tmp_path / 'unused', 2)
    config = tmp_path / 'generate_cfg.py'
    config.write_text('train_dataloader = dict(dataset=dict(type="SyntheticDetDataset", data_root="unused/", '
                      f'generation={generation!r}))\n')
    out = foreign_folder(tmp_path / 'photos')
    generate = generate_cli
    assert_refused(tmp_path, lambda: generate.main([str(config), '--out', str(out), '--no-progress']),
                   ForeignFolderError, rf'^{re.escape(str(out))} is not empty and holds no synthetic set',
                   'it holds annotations, images, notes.txt', 'Fix: give a new or empty output folder')


def test_generation_cleanup_deletes_only_its_own_file_names(tmp_path, fish_coco):
    out = tmp_path / 'set'
    generate_synthetic_set(copy_paste_generation(fish_coco, out, 2), progress=False)
    (out / 'images' / 'holiday.jpg').write_bytes(image_bytes(7))  # someone's files in the set folder
    (out / 'images' / '.tmp-holiday.jpg.x1').write_bytes(b'')
    (out / 'notes.txt').write_text('keep\n')
    (out / 'images' / '000000007.png').write_bytes(image_bytes(8, 'PNG'))  # an image's name, no manifest line
    (out / 'images' / '.tmp-000000002.png.a1b2').write_bytes(b'')  # the writer's interrupted writes
    (out / '.tmp-manifest.jsonl.c3d4').write_bytes(b'')
    theirs = snapshot(tmp_path, exclude=out)
    kept = {p: (out / p).read_bytes() for p in ('images/holiday.jpg', 'images/.tmp-holiday.jpg.x1',
                                                  'notes.txt', 'images/000000007.png')}
    summary = generate_synthetic_set(copy_paste_generation(fish_coco, out, 3), progress=False)
    assert (summary.already_done, summary.generated_now, summary.orphans_removed) == (2, 1, 2)
    assert {p: (out / p).read_bytes() for p in kept} == kept
    assert sorted(p.name for p in (out / 'images').iterdir()) == ['.tmp-holiday.jpg.x1', '000000000.png',
                                                                  '000000001.png', '000000002.png',
                                                                  '000000007.png', 'holiday.jpg']
    assert not (out / '.tmp-manifest.jsonl.c3d4').exists()
    assert snapshot(tmp_path, exclude=out) == theirs
