"""Bad input matrix: one test per class of bad input not covered elsewhere. Each checks that the error
names the file (and the record, where there is one) and that no partial output is left behind.

Covered elsewhere and not repeated here: corrupt JPEGs, EXIF rotation, malformed VOC/COCO/YAML and
``../`` file names (tests/test_datasets/test_formats.py), bad scores and escaping file names in a set
(tests/test_datasets/test_synthetic_dataset.py), kills mid-generation (test_kill_resume.py).

Classes checked here:
* grayscale ('L') and RGBA real images: converted with their real sizes, and accepted by the
  copy-paste generator, GLIGEN image grounding and mmdet's train pipeline as RGB / 3 channels;
* a 0-byte annotation file, given to every reader of annotation files;
* a full disk (ENOSPC) while writing a generated image or appending its manifest line.
"""
from __future__ import annotations

import errno
import json
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest
import torch
from helpers import REPO, run_tool
from PIL import Image

from mmgen_det.datasets import convert_dataset
from mmgen_det.datasets.synthetic_dataset import SyntheticDetDataset
from mmgen_det.generation import generate_synthetic_set
from mmgen_det.generation import writer as writer_mod
from mmgen_det.generation.backgrounds import BackgroundBank
from mmgen_det.generation.copy_paste import CopyPasteGenerator
from mmgen_det.generation.crops import ObjectCropBank
from mmgen_det.layouts import Layout, build_layout_sampler

FISH_CLASSES = ('0', '1', '2', '5', '6', '7', '8')
# file name -> (PIL mode, width, height); one object of class 'gray' or 'rgba' in the middle of each
ODD_MODES = {'gray.jpg': ('L', 120, 80), 'rgba.png': ('RGBA', 88, 136)}
ODD_CLASSES = ('gray', 'rgba')
NUM_IMAGES = 6


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root``: relative path -> (size, mtime), to see anything written or touched."""
    return {p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob('*')) if p.is_file()}


# ----------------------------------------------------------------------------- grayscale and RGBA

@pytest.fixture(scope='module')
def odd_modes(tmp_path_factory) -> Path:
    """A YOLO dataset of one grayscale JPEG and one RGBA PNG, converted to COCO."""
    src = tmp_path_factory.mktemp('odd_modes') / 'yolo'
    (src / 'train' / 'images').mkdir(parents=True)
    (src / 'train' / 'labels').mkdir()
    (src / 'data.yaml').write_text(f'train: train/images\nnames: {list(ODD_CLASSES)}\n')
    rng = np.random.default_rng(0)
    for k, (name, (mode, width, height)) in enumerate(ODD_MODES.items()):
        pixels = rng.integers(0, 256, (height, width, len(mode)), dtype=np.uint8).squeeze()
        if mode == 'RGBA':
            pixels[:, :width // 2, 3] = 0  # half transparent: its RGB must still be used as is
        Image.fromarray(pixels, mode).save(src / 'train' / 'images' / name)
        (src / 'train' / 'labels' / f'{Path(name).stem}.txt').write_text(f'{k} 0.5 0.5 {24 / width} {24 / height}\n')
    out = src.parent / 'coco'
    convert_dataset(src, 'yolo', out)
    return out


def test_gray_and_rgba_images_are_converted_with_their_sizes(odd_modes):
    coco = json.loads((odd_modes / 'annotations' / 'train.json').read_text())
    sizes = {Path(im['file_name']).name: (im['width'], im['height']) for im in coco['images']}
    assert sizes == {name: (w, h) for name, (_, w, h) in ODD_MODES.items()}
    for im in coco['images']:
        assert Image.open(odd_modes / im['file_name']).mode == ODD_MODES[Path(im['file_name']).name][0]


def test_copy_paste_makes_rgb_layout_sized_images_from_them(odd_modes):
    ann = str(odd_modes / 'annotations' / 'train.json')
    sampler = build_layout_sampler(dict(ann_file=ann, strategy='copy', width=96, height=64, min_box_cells=0.5))
    layouts = [sampler.sample(i) for i in range(4)]
    generator = CopyPasteGenerator(ann, odd_modes)
    results = generator.generate(layouts, seeds=[0, 1, 2, 3])
    assert all(r.image.mode == 'RGB' and r.image.size == (96, 64) for r in results)
    assert {c['label'] for r in results for c in r.record['crops']} == set(ODD_CLASSES)
    bank = BackgroundBank.from_coco(ann, odd_modes)
    assert len(bank.sources) == 2  # two sizes, so two one-frame cameras: each frame inpainted
    for k in range(len(bank.sources)):
        assert bank.image(k).ndim == 3 and bank.image(k).shape[2] == 3


def test_gligen_image_grounding_takes_gray_and_rgba_crops(odd_modes, tmp_path):
    from mmgen_det.generation.gligen import GLIGENGenerator
    from mmgen_det.testing.tiny_gligen import save_tiny_gligen

    bank = ObjectCropBank.from_coco(odd_modes / 'annotations' / 'train.json', odd_modes)
    assert all(crop.image.mode == 'RGB' for label in ODD_CLASSES for crop in bank.crops(label))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the tiny model is latency-bound: one thread is several times faster
    try:
        generator = GLIGENGenerator(str(save_tiny_gligen(tmp_path / 'tiny', 'text-image')), grounding='image',
                                    prompt='an underwater photo', num_inference_steps=2,
                                    scheduled_sampling_beta=1.0, device='cpu', crop_bank=bank)
        (result,) = generator.generate([Layout(0, 64, 48, [[0.1, 0.1, 0.5, 0.6], [0.5, 0.3, 0.9, 0.9]],
                                               list(ODD_CLASSES))], [0])
    finally:
        torch.set_num_threads(threads)
    assert result.image.mode == 'RGB' and result.image.size == (64, 48)
    assert [c['label'] for c in result.record['reference_crops']] == list(ODD_CLASSES)


def test_mmdet_train_pipeline_loads_them_as_three_channels(odd_modes):
    from mmdet.datasets import CocoDataset
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    cfg = Config.fromfile(REPO / 'configs' / 'demo' / 'fcos_r18_real-only_fish4knowledge-mini.py')
    pipeline = cfg.train_dataloader.dataset.pipeline
    with DefaultScope.overwrite_default_scope('mmdet'):
        dataset = CocoDataset(data_root=f'{odd_modes}/', ann_file='annotations/train.json', data_prefix=dict(img=''),
                              metainfo=dict(classes=ODD_CLASSES), pipeline=pipeline)
    assert len(dataset) == 2
    for i in range(len(dataset)):
        sample = dataset[i]
        name = Path(sample['data_samples'].img_path).name
        _, width, height = ODD_MODES[name]
        assert sample['inputs'].shape[0] == 3, name
        assert sample['data_samples'].ori_shape == (height, width), name
        assert len(sample['data_samples'].gt_instances) == 1, name


# ----------------------------------------------------------------------------- 0-byte annotation files

@pytest.mark.parametrize('tool', ['make_subset', 'convert_dataset', 'pr_filter'])
def test_empty_annotation_file_stops_each_tool_and_writes_nothing(tool, tmp_path):
    empty = tmp_path / 'set' / 'annotations.json'
    empty.parent.mkdir()
    empty.touch()
    detector = [str(tmp_path / 'detector.py'), str(tmp_path / 'detector.pth')]
    for path in detector:
        Path(path).touch()  # pr_filter must stop at the set before it looks at these
    args = {'make_subset': ['tools/make_subset.py', str(empty), '--num-images', '1', '--seed', '0',
                            '--out', str(tmp_path / 'subset.json')],
            'convert_dataset': ['tools/convert_dataset.py', str(empty), '--format', 'coco',
                                '--out', str(tmp_path / 'converted')],
            'pr_filter': ['tools/pr_filter.py', str(empty.parent), '--detector-config', detector[0],
                          '--checkpoint', detector[1]]}[tool]
    before = tree(tmp_path)
    proc = run_tool(args, check=False, timeout=300)
    assert proc.returncode != 0
    assert f'{empty}: the file is empty (0 bytes of JSON)' in proc.stderr, proc.stderr[-2000:]
    assert 'Traceback' not in proc.stderr
    assert tree(tmp_path) == before, 'partial output left behind'


def test_empty_layout_annotations_stop_generation_before_the_set_folder_exists(tmp_path):
    empty = tmp_path / 'real.json'
    empty.touch()
    message = rf'{re.escape(str(empty))}: the file is empty \(0 bytes of JSON\)'
    with pytest.raises(ValueError, match=message):
        build_layout_sampler(dict(ann_file=str(empty)))
    out = tmp_path / 'set'
    cfg = dict(out_dir=str(out), num_images=2, layout=dict(ann_file=str(empty)),
               generator=dict(type='copy_paste', ann_file=str(empty), img_root=str(tmp_path)))
    with pytest.raises(ValueError, match=message):
        generate_synthetic_set(cfg, progress=False)
    assert not out.exists()


def copy_paste_cfg(fish_coco: Path, out_dir: Path, num_images: int = NUM_IMAGES) -> dict:
    ann = str(fish_coco / 'annotations' / 'train.json')
    return dict(out_dir=str(out_dir), num_images=num_images, seed=0, batch_size=2, image_format='png',
                layout=dict(ann_file=ann, strategy='jitter', width=120, height=64, min_box_cells=0.5),
                generator=dict(type='copy_paste', ann_file=ann, img_root=str(fish_coco)))


def load_set(out: Path) -> SyntheticDetDataset:
    return SyntheticDetDataset(data_root=f'{out}/', ann_file='annotations.json', data_prefix=dict(img=''),
                               metainfo=dict(classes=FISH_CLASSES), filter_cfg=dict(filter_empty_gt=False),
                               pipeline=[])


def test_empty_set_annotations_name_the_file_and_a_rebuild_that_works(fish_coco, tmp_path):
    out = tmp_path / 'set'
    cfg = copy_paste_cfg(fish_coco, out, num_images=2)
    generate_synthetic_set(cfg, progress=False)
    ann = out / 'annotations.json'
    ann.write_bytes(b'')  # e.g. a copy cut short
    before = tree(out)
    message = rf'{re.escape(str(ann))}: the file is empty .* Fix: delete it and rerun tools/generate\.py'
    with pytest.raises(ValueError, match=message):
        load_set(out)
    with pytest.raises(ValueError, match=message):  # generation (and its hook) refuses the same way
        generate_synthetic_set(cfg, progress=False)
    after = tree(out)
    assert after == before and writer_mod.LOCK not in after  # the run lock is deleted on release
    ann.unlink()  # the fix the message gives
    assert generate_synthetic_set(cfg, progress=False).generated_now == 0
    assert len(load_set(out)) == 2


# ----------------------------------------------------------------------------- full disk

class FullDiskFile:
    """A file whose disk fills up mid-write: it takes half of the bytes, then raises ENOSPC without a
    file name, as ``write()`` does."""

    def __init__(self, f) -> None:
        self.f = f

    def write(self, data: bytes) -> int:
        self.f.write(bytes(data[:len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name: str):
        return getattr(self.f, name)


def fill_disk_at(monkeypatch, owner, name: str, k: int, applies: Callable[..., bool]) -> None:
    """Patch ``owner.name`` (a function returning a writable context) so that its ``k``-th call for
    which ``applies(*args)`` holds writes to a full disk."""
    real = getattr(owner, name)
    calls = []

    @contextmanager
    def full(context) -> Iterator[FullDiskFile]:
        with context as f:
            yield FullDiskFile(f)

    def patched(*args, **kwargs):
        context = real(*args, **kwargs)
        if applies(*args):
            calls.append(args)
            if len(calls) == k:
                return full(context)
        return context

    monkeypatch.setattr(owner, name, patched)


@pytest.fixture(scope='module')
def reference_set(fish_coco, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('reference') / 'set'
    generate_synthetic_set(copy_paste_cfg(fish_coco, out), progress=False)
    return out


def assert_whole_partial_set(out: Path, listed: list[int], on_disk: list[int]) -> None:
    """Whole manifest lines list the images ``listed``, the images ``on_disk`` decode, no temp file."""
    lines = (out / 'manifest.jsonl').read_bytes().splitlines(keepends=True)
    assert all(line.endswith(b'}\n') for line in lines), 'torn manifest line'
    assert [json.loads(line)['index'] for line in lines] == listed
    assert sorted(p.name for p in (out / 'images').iterdir()) == [f'{i:09d}.png' for i in on_disk]
    for i in on_disk:
        with Image.open(out / writer_mod.image_file_name(i, 'png')) as image:
            image.load()
    assert not list(out.rglob('.tmp-*')), 'temp files left behind'
    assert not (out / 'annotations.json').exists()


def assert_same_set(ref: Path, got: Path) -> None:
    a, b = (json.loads((p / 'annotations.json').read_text()) for p in (ref, got))
    assert a['images'] == b['images'] and a['annotations'] == b['annotations']
    assert sorted(p.name for p in (got / 'images').iterdir()) == [f'{i:09d}.png' for i in range(NUM_IMAGES)]
    for im in a['images']:
        np.testing.assert_array_equal(np.asarray(Image.open(ref / im['file_name'])),
                                      np.asarray(Image.open(got / im['file_name'])), err_msg=im['file_name'])


def test_full_disk_while_writing_an_image(reference_set, fish_coco, tmp_path, monkeypatch):
    out = tmp_path / 'set'
    cfg = copy_paste_cfg(fish_coco, out)
    fill_disk_at(monkeypatch, writer_mod, 'atomic_write', 3, lambda path, *_: Path(path).parent.name == 'images')
    with pytest.raises(OSError, match=r'No space left on device: .*images/000000002\.png') as e:
        generate_synthetic_set(cfg, progress=False)
    assert e.value.errno == errno.ENOSPC
    assert_whole_partial_set(out, listed=[0, 1], on_disk=[0, 1])
    monkeypatch.undo()  # the disk is freed
    summary = generate_synthetic_set(cfg, progress=False)
    assert (summary.already_done, summary.generated_now, summary.repaired_lines, summary.orphans_removed) == \
        (2, NUM_IMAGES - 2, 0, 0)
    assert_same_set(reference_set, out)


def test_full_disk_while_appending_the_manifest(reference_set, fish_coco, tmp_path, monkeypatch):
    out = tmp_path / 'set'
    cfg = copy_paste_cfg(fish_coco, out)
    fill_disk_at(monkeypatch, writer_mod.SyntheticSetWriter, '_locked_manifest', 3, lambda _, mode: mode == 'ab')
    with pytest.raises(OSError, match=r'No space left on device: .*manifest\.jsonl') as e:
        generate_synthetic_set(cfg, progress=False)
    assert e.value.errno == errno.ENOSPC
    # half of image 2's line was written, then cut off again; its image never got its name
    assert_whole_partial_set(out, listed=[0, 1], on_disk=[0, 1])
    monkeypatch.undo()
    summary = generate_synthetic_set(cfg, progress=False)
    assert (summary.already_done, summary.generated_now, summary.repaired_lines, summary.orphans_removed) == \
        (2, NUM_IMAGES - 2, 0, 0)
    assert_same_set(reference_set, out)
